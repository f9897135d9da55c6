"""What one fetch costs, pinned where a cheaper path was taken on purpose, and the cheaper
path held equal to httpx's own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.crawling.http import Fetcher
from trio_crawl.crawling.httpx_client import header_items, raw_headers
from trio_crawl.transport import TrioTransport

from .fetch_settings import settings_with
from .http_server import HTML, Reply, Request, serve_routes

PAGE = b"<html><body><p>hi</p></body></html>"


def _counting(calls: list[str], name: str, method: Any) -> Any:
    def counted(self: httpx.Headers, *args: Any) -> Any:
        calls.append(name)
        return method(self, *args)

    return counted


async def test_a_page_is_read_without_copying_its_headers_out_of_httpx_again(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response's header lines are read from the list the transport's parser made:
    `httpx.Headers.raw` is asked once a request (for the request's own head) and
    `multi_items` never, where each made new lists (and decoded every header) again."""
    headers = (*HTML, ("X-Page", "1"), ("x-page", "2"))
    base = await nursery.start(serve_routes, {"/p": Reply(headers=headers, body=PAGE)})
    calls: list[str] = []
    async with Fetcher.open(settings_with(robots_txt=False)) as fetcher:
        await fetcher.get(f"{base}/p")  # the origin's request headers are made once, here
        raw: Any = vars(httpx.Headers)["raw"]  # the property itself
        monkeypatch.setattr(httpx.Headers, "raw", property(_counting(calls, "raw", raw.fget)))
        monkeypatch.setattr(
            httpx.Headers,
            "multi_items",
            _counting(calls, "multi_items", httpx.Headers.multi_items),
        )
        page = await fetcher.get(f"{base}/p")
    assert page.body == PAGE
    assert [value for name, value in page.headers if name == "x-page"] == ["1", "2"]
    assert calls == ["raw"]


header_lines = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=8).filter(lambda b: b"\n" not in b),
        st.binary(max_size=12),
    ),
    max_size=6,
)


@given(header_lines)
def test_header_items_are_httpxs_multi_items(lines: list[tuple[bytes, bytes]]) -> None:
    """Whatever the bytes (ASCII, UTF-8, Latin-1), as httpx decodes them."""
    headers = httpx.Headers(lines)
    assert header_items(headers.raw, headers) == headers.multi_items()


@pytest.mark.parametrize("own", [True, False], ids=["TrioTransport", "httpcore"])
async def test_raw_headers_are_the_responses_raw_headers(nursery: trio.Nursery, own: bool) -> None:
    headers = (("Content-Type", "text/html"), ("X-A", "1"), ("x-a", "2"), ("Set-Cookie", "c=1"))
    base = await nursery.start(serve_routes, {"/": Reply(headers=headers, body=b"<p>")})
    transport = TrioTransport() if own else httpx.AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(base + "/")
    assert raw_headers(response) == response.headers.raw
    assert (b"X-A", b"1") in raw_headers(response)


async def test_a_cookie_set_under_any_spelling_of_its_header_is_sent_back(
    nursery: trio.Nursery,
) -> None:
    seen: list[str | None] = []

    async def second(request: Request) -> Reply:
        seen.append(dict(request.headers).get("cookie"))
        return Reply(body=PAGE)

    routes = {
        "/first": Reply(headers=(*HTML, ("SET-COOKIE", "a=1; Path=/")), body=PAGE),
        "/second": second,
    }
    base = await nursery.start(serve_routes, routes)
    async with Fetcher.open(settings_with(robots_txt=False)) as fetcher:
        await fetcher.get(f"{base}/first")
        await fetcher.get(f"{base}/second")
    assert seen == ["a=1"]
