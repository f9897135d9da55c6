"""`Fetcher` against a real loopback server (tests/crawling/http_server.py), in-process.

Most tests run on trio's real clock. Tests about time (timeouts, politeness waits) take
`autojump_clock`: the server runs in the same trio run and loopback I/O is ready as soon as it
is sent, so the mock clock only jumps when every task is truly waiting on a timer, and a jump
can only land on the earliest deadline (the one the test is about).
"""

from __future__ import annotations

import email.utils
import gzip
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio
import trio.testing

from trio_crawl.crawling.failures import classify_exception, classify_status, map_http_errors
from trio_crawl.crawling.http import FetchedPage, Fetcher
from trio_crawl.crawling.politeness import Politeness
from trio_crawl.engine.results import ErrorKind, StageError

from .fetch_settings import settings_with
from .http_server import HTML, Handler, Reply, Request, serve_routes

PAGE = b"<html><body><h1>hello</h1></body></html>"
PAGE_REPLY = Reply(body=PAGE)


async def serve(nursery: trio.Nursery, routes: Mapping[str, Handler]) -> str:
    base: str = await nursery.start(serve_routes, routes)
    return base


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher.open(settings_with(request_timeout_secs=5.0)) as fetcher:
        yield fetcher


async def fetch_error(fetcher: Fetcher, url: str) -> StageError:
    with pytest.raises(StageError) as info:
        await fetcher.get(url)
    return info.value


# --- success ----------------------------------------------------------------------------------


async def test_html_page_is_returned_with_body_status_and_content_type(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    base = await serve(nursery, {"/p": Reply(body=PAGE)})
    page = await fetcher.get(f"{base}/p?x=1")
    assert page == FetchedPage(
        url=f"{base}/p?x=1", status=200, body=PAGE, content_type="text/html; charset=utf-8"
    )


async def test_xhtml_and_chunked_bodies_are_accepted(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    xhtml = (("content-type", "application/xhtml+xml"),)
    body = PAGE * 1000
    base = await serve(nursery, {"/x": Reply(headers=xhtml, body=body, chunked=True)})
    page = await fetcher.get(f"{base}/x")
    assert page.body == body
    assert page.content_type == "application/xhtml+xml"


async def test_sends_the_configured_user_agent(nursery: trio.Nursery) -> None:
    seen: list[str] = []

    async def record(request: Request) -> Reply:
        seen.extend(v for k, v in request.headers if k.lower() == "user-agent")
        return Reply(body=PAGE)

    base = await serve(nursery, {"/": record})
    async with Fetcher.open(settings_with(user_agent="polite-bot/9")) as fetcher:
        await fetcher.get(f"{base}/")
    assert seen == ["polite-bot/9"]


# --- status classification --------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_5xx_is_server_error_with_status(
    nursery: trio.Nursery, fetcher: Fetcher, status: int
) -> None:
    base = await serve(nursery, {"/": Reply(status=status)})
    error = await fetch_error(fetcher, f"{base}/")
    assert (error.kind, error.status) == (ErrorKind.server_error, status)


async def test_503_with_retry_after_is_rate_limited_and_without_is_server_error(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    base = await serve(
        nursery,
        {
            "/busy": Reply(status=503, headers=(*HTML, ("retry-after", "7"))),
            "/down": Reply(status=503),
        },
    )
    busy = await fetch_error(fetcher, f"{base}/busy")
    assert (busy.kind, busy.status, busy.retry_after) == (ErrorKind.rate_limited, 503, 7.0)
    down = await fetch_error(fetcher, f"{base}/down")
    assert (down.kind, down.status, down.retry_after) == (ErrorKind.server_error, 503, None)


async def test_429_is_rate_limited_with_retry_after_seconds(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    base = await serve(nursery, {"/": Reply(status=429, headers=(("retry-after", "2"),))})
    error = await fetch_error(fetcher, f"{base}/")
    assert (error.kind, error.status, error.retry_after) == (ErrorKind.rate_limited, 429, 2.0)


async def test_429_honours_an_http_date_retry_after(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    base = await serve(nursery, {"/": Reply(status=429, headers=(("retry-after", when),))})
    error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.rate_limited
    assert error.retry_after == pytest.approx(60, abs=3)


async def test_429_without_retry_after_is_still_rate_limited(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    base = await serve(nursery, {"/": Reply(status=429)})
    error = await fetch_error(fetcher, f"{base}/")
    assert (error.kind, error.retry_after) == (ErrorKind.rate_limited, None)


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_4xx_is_client_error_with_status(
    nursery: trio.Nursery, fetcher: Fetcher, status: int
) -> None:
    base = await serve(nursery, {"/": Reply(status=status)})
    error = await fetch_error(fetcher, f"{base}/")
    assert (error.kind, error.status) == (ErrorKind.client_error, status)


async def test_unknown_path_is_a_404_client_error(nursery: trio.Nursery, fetcher: Fetcher) -> None:
    base = await serve(nursery, {})
    error = await fetch_error(fetcher, f"{base}/nothing-here")
    assert (error.kind, error.status) == (ErrorKind.client_error, 404)


@pytest.mark.parametrize(
    ("status", "retry_after", "kind"),
    [
        (200, None, None),
        (204, None, None),
        (429, "3", ErrorKind.rate_limited),
        (503, "3", ErrorKind.rate_limited),
        (503, "soon", ErrorKind.server_error),  # an unusable Retry-After is no Retry-After
        (503, None, ErrorKind.server_error),
        (500, "3", ErrorKind.server_error),
        (418, None, ErrorKind.client_error),
        (304, None, ErrorKind.client_error),
    ],
)
def test_classify_status_table(status: int, retry_after: str | None, kind: ErrorKind) -> None:
    error = classify_status(status, retry_after)
    assert (error.kind if error else None) is kind
    if error is not None:
        assert error.status == status


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("t"), ErrorKind.network_timeout),
        (httpx.ReadTimeout("t"), ErrorKind.network_timeout),
        (httpx.WriteTimeout("t"), ErrorKind.network_timeout),
        (httpx.PoolTimeout("t"), ErrorKind.network_timeout),
        (trio.TooSlowError(), ErrorKind.network_timeout),
        (httpx.ConnectError("c"), ErrorKind.network_error),
        (httpx.ReadError("r"), ErrorKind.network_error),
        (httpx.WriteError("w"), ErrorKind.network_error),
        (httpx.RemoteProtocolError("peer closed connection"), ErrorKind.network_error),
        (httpx.DecodingError("bad gzip"), ErrorKind.network_error),
        (httpx.UnsupportedProtocol("ftp"), ErrorKind.client_error),
        (httpx.InvalidURL("bad"), ErrorKind.client_error),
    ],
)
def test_transport_failures_map_to_one_kind_each(exc: Exception, kind: ErrorKind) -> None:
    error = classify_exception(exc)
    assert error is not None and error.kind is kind
    with pytest.raises(StageError) as info, map_http_errors():
        raise exc
    assert info.value.kind is kind
    assert info.value.__cause__ is exc


def test_non_transport_exceptions_are_left_alone() -> None:
    assert classify_exception(KeyError("x")) is None
    with pytest.raises(KeyError), map_http_errors():
        raise KeyError("x")


# --- connection failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(reset=True),
        Reply(hang_up=True),
        Reply(body=PAGE * 100, truncate_to=len(PAGE) * 10),
    ],
    ids=["reset", "hang-up", "truncated"],
)
async def test_broken_connections_are_network_errors(
    nursery: trio.Nursery, fetcher: Fetcher, reply: Reply
) -> None:
    base = await serve(nursery, {"/": reply})
    error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.network_error
    assert isinstance(error.__cause__, httpx.TransportError)


async def test_truncated_body_message_says_so(nursery: trio.Nursery, fetcher: Fetcher) -> None:
    base = await serve(nursery, {"/": Reply(body=PAGE * 100, truncate_to=100)})
    error = await fetch_error(fetcher, f"{base}/")
    assert "complete message body" in error.message


async def test_refused_connection_is_network_error(fetcher: Fetcher) -> None:
    with trio.socket.socket() as sock:  # bound but never listening: connections are refused
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/")
    assert error.kind is ErrorKind.network_error


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http://[::1/"])
async def test_unusable_urls_are_client_errors_not_raw_httpx_exceptions(
    fetcher: Fetcher, url: str
) -> None:
    error = await fetch_error(fetcher, url)
    assert error.kind is ErrorKind.client_error


# --- timeouts (mock clock) --------------------------------------------------------------------


async def test_slow_response_past_request_timeout_is_network_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    base = await serve(nursery, {"/": Reply(body=PAGE, delay=60)})
    async with Fetcher.open(settings_with(request_timeout_secs=30)) as fetcher:
        start = trio.current_time()
        error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.network_timeout
    assert trio.current_time() - start == pytest.approx(30)


async def test_slow_drip_body_cannot_stretch_the_request_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    # Each chunk arrives well within httpx's per-read timeout; only the overall deadline stops it.
    drip = Reply(body=b"x" * 100, chunk_size=1, drip=1.0)
    base = await serve(nursery, {"/": drip})
    async with Fetcher.open(settings_with(request_timeout_secs=10)) as fetcher:
        start = trio.current_time()
        error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.network_timeout
    assert error.message == "no complete response within 10.0 s"  # the config's float
    assert trio.current_time() - start == pytest.approx(10)


async def test_waiting_for_politeness_does_not_count_against_the_timeout(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    base = await serve(nursery, {"/": Reply(body=PAGE)})
    politeness = Politeness(requests_per_second=0.01, per_host_concurrency=1)  # 100 s apart
    settings = settings_with(request_timeout_secs=5, robots_txt=False)  # robots.txt: a request
    async with Fetcher.open(settings, politeness) as fetcher:
        start = trio.current_time()
        await fetcher.get(f"{base}/")
        await fetcher.get(f"{base}/")
    assert trio.current_time() - start == pytest.approx(100)


async def test_fetcher_closes_its_clients_when_cancelled(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    base = await serve(nursery, {"/": Reply(body=PAGE, delay=60)})
    with trio.move_on_after(1):
        async with (
            Fetcher.open(settings_with(max_connections=3)) as fetcher,
            trio.open_nursery() as requests,
        ):
            for _ in range(3):
                requests.start_soon(fetcher.get, f"{base}/")
    sender = fetcher._sender  # peeking, not patching: was it closed?
    assert sender is not None and sender.is_closed


# --- size and content type --------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_body_is_client_error_mentioning_the_size(
    nursery: trio.Nursery, chunked: bool
) -> None:
    base = await serve(nursery, {"/": Reply(body=b"x" * 1_000_000, chunked=chunked)})
    async with Fetcher.open(settings_with(max_response_bytes=65_536)) as fetcher:
        error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.client_error
    assert error.message == "response too large: > 65536 bytes"


@pytest.mark.parametrize(
    ("chunked", "seconds"), [(False, 0.0), (True, 4.0)], ids=["content-length", "chunked"]
)
async def test_oversized_body_is_refused_without_reading_the_rest(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, chunked: bool, seconds: float
) -> None:
    # 1 MB dripped at 16 KiB a second: a Content-Length over the limit is refused before any
    # of the body is read; without one, reading stops at the 5th chunk (80 KiB > 64 KiB).
    slow = Reply(body=b"x" * 1_000_000, chunked=chunked, chunk_size=16_384, drip=1.0)
    base = await serve(nursery, {"/": slow})
    settings = settings_with(max_response_bytes=65_536, request_timeout_secs=1000)
    async with Fetcher.open(settings) as fetcher:
        start = trio.current_time()
        error = await fetch_error(fetcher, f"{base}/")
    assert error.message == "response too large: > 65536 bytes"
    assert trio.current_time() - start == pytest.approx(seconds)


async def test_body_exactly_at_the_limit_is_accepted(nursery: trio.Nursery) -> None:
    base = await serve(nursery, {"/": Reply(body=b"x" * 4096, chunked=True, chunk_size=1000)})
    async with Fetcher.open(settings_with(max_response_bytes=4096)) as fetcher:
        assert len((await fetcher.get(f"{base}/")).body) == 4096


@pytest.mark.parametrize("content_type", ["application/json", "image/png", None])
async def test_non_html_content_is_parse_error_naming_the_type(
    nursery: trio.Nursery, fetcher: Fetcher, content_type: str | None
) -> None:
    headers = () if content_type is None else (("content-type", content_type),)
    base = await serve(nursery, {"/": Reply(headers=headers, body=b"{}")})
    error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.parse_error
    assert (content_type or "(none)") in error.message


# --- content codings and the response head -----------------------------------------------------


def gzipped(body: bytes, coding: str = "gzip") -> Reply:
    return Reply(headers=(*HTML, ("content-encoding", coding)), body=gzip.compress(body))


async def test_a_gzip_page_is_decoded_and_gzip_and_deflate_are_all_we_ask_for(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    asked: list[str] = []

    async def record(request: Request) -> Reply:
        asked.extend(v for k, v in request.headers if k.lower() == "accept-encoding")
        return gzipped(PAGE * 100)

    base = await serve(nursery, {"/": record})
    assert (await fetcher.get(f"{base}/")).body == PAGE * 100
    assert asked == ["gzip, deflate"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_gzip_bomb_is_refused_by_its_decoded_size(
    nursery: trio.Nursery, chunked: bool
) -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KB
    headers = (*HTML, ("content-encoding", "gzip"))
    base = await serve(nursery, {"/": Reply(headers=headers, body=bomb, chunked=chunked)})
    async with Fetcher.open(settings_with(max_response_bytes=1024 * 1024)) as fetcher:
        error = await fetch_error(fetcher, f"{base}/")
    assert (error.kind, error.message) == (
        ErrorKind.client_error, "response too large: > 1048576 bytes",
    )  # fmt: skip


@pytest.mark.parametrize("coding", ["br", "zstd", "compress"])
async def test_an_unsupported_content_encoding_is_a_client_error_naming_it(
    nursery: trio.Nursery, fetcher: Fetcher, coding: str
) -> None:
    base = await serve(nursery, {"/": gzipped(PAGE, coding)})
    error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.client_error
    assert f"unsupported content-encoding {coding!r}" in error.message


async def test_more_header_lines_than_max_headers_is_a_client_error(
    nursery: trio.Nursery,
) -> None:
    many = tuple((f"x-filler-{i}", "1") for i in range(120))
    base = await serve(nursery, {"/many": Reply(headers=(*HTML, *many), body=PAGE)})
    async with Fetcher.open(settings_with(max_headers=100)) as fetcher:
        error = await fetch_error(fetcher, f"{base}/many")
        assert (error.kind, error.message) == (
            ErrorKind.client_error, "too many response headers: 122 (at most 100)",
        )  # fmt: skip
        fetcher.update_settings(settings_with(max_headers=200))
        assert (await fetcher.get(f"{base}/many")).body == PAGE


async def test_a_response_head_over_100_kib_is_refused_by_the_transport(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    # httpcore's h11 buffer bounds the head's size; this guards that bound if the transport
    # changes.
    huge = (("x-huge", "y" * 200_000),)
    base = await serve(nursery, {"/": Reply(headers=(*HTML, *huge), body=PAGE)})
    error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is ErrorKind.network_error


# --- redirects --------------------------------------------------------------------------------


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers=(("location", location),))


async def test_on_site_redirects_are_followed_to_the_final_url(
    nursery: trio.Nursery, fetcher: Fetcher
) -> None:
    base = await serve(
        nursery,
        {"/old": redirect("/mid", 301), "/mid": redirect("/new?page=2", 307), "/new": PAGE_REPLY},
    )
    page = await fetcher.get(f"{base}/old")
    assert page.url == f"{base}/new?page=2"
    assert page.body == PAGE


async def test_off_site_redirect_to_another_port_is_refused_unless_allowed(
    nursery: trio.Nursery,
) -> None:
    elsewhere = await serve(nursery, {"/landing": PAGE_REPLY})
    base = await serve(nursery, {"/away": redirect(f"{elsewhere}/landing")})
    async with Fetcher.open(settings_with()) as fetcher:
        error = await fetch_error(fetcher, f"{base}/away")
        assert error.kind is ErrorKind.client_error
        assert error.message == f"off-site redirect to {elsewhere}/landing refused"
        fetcher.update_settings(settings_with(allow_offsite_redirects=True))
        page = await fetcher.get(f"{base}/away")
    assert page.url == f"{elsewhere}/landing"


async def test_too_many_redirects_is_client_error(nursery: trio.Nursery) -> None:
    hops = {f"/{i}": redirect(f"/{i + 1}") for i in range(3)}
    base = await serve(nursery, {**hops, "/3": PAGE_REPLY, "/loop": redirect("/loop")})
    async with Fetcher.open(settings_with(max_redirects=3)) as fetcher:
        assert (await fetcher.get(f"{base}/0")).url == f"{base}/3"
        error = await fetch_error(fetcher, f"{base}/loop")
        assert error.kind is ErrorKind.client_error
        assert "too many redirects" in error.message
        fetcher.update_settings(settings_with(max_redirects=2))
        assert (await fetch_error(fetcher, f"{base}/0")).kind is ErrorKind.client_error


async def test_redirect_to_an_unsupported_scheme_is_client_error(nursery: trio.Nursery) -> None:
    base = await serve(nursery, {"/": redirect("ftp://127.0.0.1/file")})
    async with Fetcher.open(settings_with(allow_offsite_redirects=True)) as fetcher:
        assert (await fetch_error(fetcher, f"{base}/")).kind is ErrorKind.client_error


# --- live settings and the connection bound ---------------------------------------------------


async def test_update_settings_applies_from_the_next_request_but_keeps_the_sender(
    nursery: trio.Nursery,
) -> None:
    base = await serve(nursery, {"/": Reply(body=b"x" * 10_000)})
    async with Fetcher.open(settings_with(max_connections=8, cookies={"a": "1"})) as fetcher:
        await fetcher.get(f"{base}/")
        fetcher.update_settings(
            settings_with(max_response_bytes=1024, max_connections=16, transport="httpcore")
        )
        error = await fetch_error(fetcher, f"{base}/")
        assert error.message == "response too large: > 1024 bytes"
        assert fetcher.settings == settings_with(
            max_response_bytes=1024, max_connections=8, cookies={"a": "1"}
        )


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_requests_in_flight_are_bounded_by_max_connections(
    nursery: trio.Nursery, transport: str
) -> None:
    # The one bound on requests in flight: at most max_connections reach the server at once,
    # each on its own connection, however many callers ask.
    peers: set[tuple[str, int]] = set()
    in_flight = most = 0

    async def record(request: Request) -> Reply:
        nonlocal in_flight, most
        peers.add(request.peer)
        in_flight += 1
        most = max(most, in_flight)
        await trio.sleep(0.01)
        in_flight -= 1
        return PAGE_REPLY

    base = await serve(nursery, {"/": record})
    settings = settings_with(max_connections=4, transport=transport, robots_txt=False)
    async with Fetcher.open(settings) as fetcher, trio.open_nursery() as workers:
        for _ in range(16):
            workers.start_soon(fetcher.get, f"{base}/")
    assert (most, len(peers)) == (4, 4)


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_a_thousand_connections_cost_nothing_until_used(
    nursery: trio.Nursery, transport: str
) -> None:
    # The sender is built by the first request, and its pool opens connections as requests
    # need them: five requests, five connections at most, whatever max_connections says.
    peers: set[tuple[str, int]] = set()

    async def record(request: Request) -> Reply:
        peers.add(request.peer)
        return PAGE_REPLY

    base = await serve(nursery, {"/": record})
    settings = settings_with(max_connections=1000, transport=transport, robots_txt=False)
    async with Fetcher.open(settings) as fetcher:
        assert fetcher._sender is None
        async with trio.open_nursery() as workers:
            for _ in range(5):
                workers.start_soon(fetcher.get, f"{base}/")
        assert fetcher._sender is not None
    assert 1 <= len(peers) <= 5


async def test_sequential_requests_reuse_one_warm_connection(nursery: trio.Nursery) -> None:
    peers: set[tuple[str, int]] = set()

    async def record(request: Request) -> Reply:
        peers.add(request.peer)
        return PAGE_REPLY

    base = await serve(nursery, {"/": record})
    async with Fetcher.open(settings_with(max_connections=50)) as fetcher:
        for _ in range(10):
            await fetcher.get(f"{base}/")
    assert len(peers) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"request_timeout_secs": 0},
        {"max_response_bytes": 0},
        {"max_redirects": -1},
        {"max_connections": 0},
        {"max_headers": 0},
    ],
)
def test_invalid_settings_are_refused(changes: dict[str, float]) -> None:
    # The config's sections check their own fields; the fetcher checks the two it adds.
    with pytest.raises((ValueError, TypeError)):
        settings_with(**changes)


# The crawler's own transport is driven without httpx's client (crawling/senders.py), which
# reads Location itself: each of these must end where httpx's client (httpcore) ends.
LOCATIONS = [
    pytest.param("/new?page=2", "/start", "/new?page=2", id="absolute-path"),
    pytest.param("new", "/dir/start", "/dir/new", id="relative-path"),
    pytest.param("../new", "/dir/sub/start", "/dir/new", id="dot-dot"),
    pytest.param("/new", "/start#part", "/new#part", id="fragment-kept"),
    pytest.param("/new#own", "/start#part", "/new#own", id="own-fragment-wins"),
]


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
@pytest.mark.parametrize(("location", "start", "final"), LOCATIONS)
async def test_a_location_is_read_as_httpx_reads_it_on_both_transports(
    nursery: trio.Nursery, transport: str, location: str, start: str, final: str
) -> None:
    path = start.partition("#")[0]
    target = final.partition("?")[0].partition("#")[0]
    base = await serve(nursery, {path: redirect(location), target: PAGE_REPLY})
    async with Fetcher.open(settings_with(transport=transport, robots_txt=False)) as fetcher:
        page = await fetcher.get(f"{base}{start}")
    assert page.url == f"{base}{final}"


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
@pytest.mark.parametrize(
    ("location", "kind", "message"),
    [
        pytest.param(
            "http://[::1/broken",
            ErrorKind.network_error,
            "Invalid URL in location header",
            id="unreadable",
        ),
        # httpx gives a host-less absolute Location the request's host but not its port.
        pytest.param(
            "http:///new",
            ErrorKind.client_error,
            "off-site redirect to http://127.0.0.1/new refused",
            id="absolute-without-host",
        ),
    ],
)
async def test_a_location_httpx_cannot_follow_fails_alike_on_both_transports(
    nursery: trio.Nursery, transport: str, location: str, kind: ErrorKind, message: str
) -> None:
    base = await serve(nursery, {"/": redirect(location)})
    async with Fetcher.open(settings_with(transport=transport, robots_txt=False)) as fetcher:
        error = await fetch_error(fetcher, f"{base}/")
    assert error.kind is kind
    assert message in error.message


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_repeated_content_encoding_lines_are_all_undone_in_order(
    nursery: trio.Nursery, transport: str
) -> None:
    # Two Content-Encoding lines mean the codings of both, in order (RFC 9110 §5.3), as
    # httpx.Headers joins them: the page was gzipped twice.
    twice = gzip.compress(gzip.compress(PAGE))
    headers = (("content-type", "text/html"), ("content-encoding", "gzip"))
    base = await serve(
        nursery, {"/": Reply(headers=(*headers, ("content-encoding", "gzip")), body=twice)}
    )
    async with Fetcher.open(settings_with(transport=transport, robots_txt=False)) as fetcher:
        page = await fetcher.get(f"{base}/")
    assert page.body == PAGE
    assert [v for k, v in page.headers if k == "content-encoding"] == ["gzip", "gzip"]
