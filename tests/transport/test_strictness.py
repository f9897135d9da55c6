"""HTTP/1.1 read and written as strictly as h11: every transport, each case of issue 23.

Each row runs over the conformance matrix's transports: httpx's own (httpcore, h11 inside) is
the reference, and `TrioTransport` must do as it does with either parser. Responses whose
framing a lenient parser misreads must not hang (the read timeout is short, so a row fails
rather than waits), must not be read over by bytes that follow them, and requests h11 would
not send must not reach the server at all.
"""

from __future__ import annotations

import h11
import httpx
import pytest
import trio

from tests.crawling.fetch_settings import settings_with
from trio_crawl.crawling.http import Fetcher
from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.transport import TrioTransport

from .servers import RequestHead, Responder, ServerConnection, answer_each, response, start_server
from .test_conformance import each_transport, open_client, quick

SHORT_READ = quick(read=1.0)


def first_then_next(first: bytes) -> Responder:
    """`first` to a request for /first, a plain "next" to anything else, on one connection."""

    def reply(request: RequestHead) -> bytes:
        return first if request.target == "/first" else response(body=b"next")

    return answer_each(reply)


# --- responses ---------------------------------------------------------------------------------


@each_transport()
async def test_transfer_encoding_chunked_with_trailing_tab_is_chunked(
    kind: str, nursery: trio.Nursery
) -> None:
    first = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    server = await start_server(nursery, first_then_next(first))
    async with open_client(kind, timeouts=SHORT_READ) as client:
        chunked = await client.get(f"{server.url}/first")
        after = await client.get(f"{server.url}/next")
    assert chunked.content == b"abc"
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert after.content == b"next"
    assert server.accepted == 1


@each_transport()
async def test_optional_whitespace_is_stripped_from_header_values(
    kind: str, nursery: trio.Nursery
) -> None:
    first = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/html; charset=latin-1 \t\r\n"
        b"X-Lead: \t lead\r\n"
        b"X-Inner: a \t b  \r\n"
        b"X-Empty: \t \r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    server = await start_server(nursery, first_then_next(first))
    async with open_client(kind, timeouts=SHORT_READ) as client:
        got = await client.get(f"{server.url}/first")
    assert got.headers.raw == [
        (b"Content-Type", b"text/html; charset=latin-1"),
        (b"X-Lead", b"lead"),
        (b"X-Inner", b"a \t b"),
        (b"X-Empty", b""),
        (b"Content-Length", b"2"),
    ]
    assert got.charset_encoding == "latin-1"


@each_transport(
    xfail={
        "httpcore": "h11 keeps the stray bytes in its buffer, so httpcore's check that an idle "
        "connection has nothing to read passes, and the stray 404 answers /next"
    }
)
async def test_a_stray_response_after_a_complete_one_neither_replaces_it_nor_is_reused(
    kind: str, nursery: trio.Nursery
) -> None:
    first = response(body=b"ok") + response(404, b"")
    server = await start_server(nursery, first_then_next(first))
    async with open_client(kind, timeouts=SHORT_READ) as client:
        got = await client.get(f"{server.url}/first")
        after = await client.get(f"{server.url}/next")
    assert (got.status_code, got.reason_phrase, got.content) == (200, "OK", b"ok")
    assert after.content == b"next"
    # The stray 404 was not taken as the answer to /next: that went on a new connection.
    assert server.accepted == 2


@each_transport()
@pytest.mark.parametrize(
    "framing",
    [b"Transfer-Encoding: gzip, chunked", b"Transfer-Encoding: chunked, gzip"],
)
async def test_a_transfer_coding_other_than_chunked_is_refused(
    kind: str, framing: bytes, nursery: trio.Nursery
) -> None:
    first = b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n1\r\nx\r\n0\r\n\r\n"
    server = await start_server(nursery, first_then_next(first))
    async with open_client(kind, timeouts=SHORT_READ) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"{server.url}/first")


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_a_location_with_trailing_spaces_is_followed_to_its_trimmed_target(
    transport: str, nursery: trio.Nursery
) -> None:
    def reply(request: RequestHead) -> bytes:
        if request.target == "/start":
            return response(302, headers=[("Location", "/target \t ")])
        if request.target == "/target":
            return response(body=b"<p>here</p>", headers=[("Content-Type", "text/html")])
        return response(404)

    server = await start_server(nursery, answer_each(reply))
    settings = settings_with(request_timeout_secs=3.0, robots_txt=False, transport=transport)
    async with Fetcher.open(settings) as fetcher:
        page = await fetcher.get(f"{server.url}/start")
    assert page.url == f"{server.url}/target"
    assert page.body == b"<p>here</p>"


# --- requests ----------------------------------------------------------------------------------


class SpacedURL(httpx.URL):
    """A URL whose target has a space: httpx percent-encodes every URL it builds, so only a
    subclass (or a transport user setting ``request.url``) gets one this far."""

    @property
    def raw_path(self) -> bytes:
        return b"/a b"


def invalid_request(case: str, url: str) -> httpx.Request:
    if case == "method with a space":
        return httpx.Request("GET /X", f"{url}/a")
    if case == "target with a space":
        request = httpx.Request("GET", url)
        request.url = SpacedURL(url)
        return request
    headers = {
        "NUL in a value": {"X-Note": "a\x00b"},
        "CR in a value": {"X-Note": "a\rb"},
        "LF in a value": {"X-Note": "a\nX-Smuggled: 1"},
        "trailing space in a value": {"X-Note": "a "},
        "colon in a name": {"X:Note": "1"},
        "space in a name": {"X Note": "1"},
        "bad Content-Length": {"Content-Length": "1x"},
        "Transfer-Encoding gzip": {"Transfer-Encoding": "gzip"},
    }[case]
    return httpx.Request("GET", url, headers=headers)


async def record(conn: ServerConnection) -> None:
    await conn.record_until_eof()


INVALID = [
    "method with a space",
    "target with a space",
    "NUL in a value",
    "CR in a value",
    "LF in a value",
    "trailing space in a value",
    "colon in a name",
    "space in a name",
    "bad Content-Length",
    "Transfer-Encoding gzip",
]


@each_transport()
@pytest.mark.parametrize("case", INVALID)
async def test_a_request_h11_would_not_send_is_refused_before_a_byte_is_sent(
    kind: str, case: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, record)
    async with open_client(kind, timeouts=SHORT_READ) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.send(invalid_request(case, server.url))
    await server.wait_closed(server.accepted)
    assert bytes(server.received) == b""


@each_transport()
@pytest.mark.parametrize(("content", "length"), [(b"abcdef", "3"), (b"ab", "5")])
async def test_a_body_unlike_its_content_length_is_refused(
    kind: str, content: bytes, length: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, record)
    async with open_client(kind, timeouts=SHORT_READ) as client:
        request = client.build_request(
            "POST", server.url, content=content, headers={"Content-Length": length}
        )
        # httpcore lets h11's own exception out of its body writer, unmapped.
        refused = httpx.LocalProtocolError if kind != "httpcore" else h11.LocalProtocolError
        with pytest.raises(refused):
            await client.send(request)
    await server.wait_closed(server.accepted)
    received = bytes(server.received)
    if kind != "httpcore":
        assert received == b""
    else:
        # httpcore writes the head, then what fits the length, before it meets the error:
        # never bytes past the length, which a server would read as the next request.
        body = received.split(b"\r\n\r\n", 1)[1]
        assert content.startswith(body) and len(body) <= int(length)


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_a_refused_request_is_a_client_error_for_the_crawl(
    transport: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, record)
    settings = settings_with(request_timeout_secs=3.0, robots_txt=False, transport=transport)
    # The config refuses such a header first; past it (a frozen value changed by force), the
    # transport's own check must still keep the request off the wire.
    object.__setattr__(settings.http, "headers", {"X-Note": "a\x00b"})
    async with Fetcher.open(settings) as fetcher:
        with pytest.raises(StageError) as caught:
            await fetcher.get(f"{server.url}/page")
    assert caught.value.kind is ErrorKind.client_error
    assert "LocalProtocolError" in str(caught.value)
    await server.wait_closed(server.accepted)
    assert bytes(server.received) == b""


# --- what is not supported fails loudly --------------------------------------------------------


async def test_the_trace_extension_is_refused_not_ignored(nursery: trio.Nursery) -> None:
    server = await start_server(nursery, answer_each(lambda request: response(body=b"x")))
    called: list[str] = []

    async def trace(name: str, info: dict[str, object]) -> None:
        called.append(name)

    transport = TrioTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(NotImplementedError, match="trace"):
            await client.get(server.url, extensions={"trace": trace})
    assert server.accepted == 0
