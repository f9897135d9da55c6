"""One conformance matrix for every httpx transport we ship or compare against.

Each row runs over `TRANSPORTS`: httpx's own httpcore transport and `TrioTransport` with each
parser. The servers are raw-socket responders in `servers.py`, so every byte on the wire is the
test's choice. A row a transport does not support is a strict xfail for that transport alone,
saying what it does.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest
import trio
import trustme

from trio_crawl.transport import DEADLINE_EXTENSION, TrioTransport
from trio_crawl.transport.parsers import ParserName

from .servers import (
    RequestHead,
    Responder,
    ServerConnection,
    answer_each,
    full_backlog_listener,
    response,
    start_server,
)

TRANSPORTS = ["httpcore", "trio-httptools", "trio-h11"]
PARSERS: dict[str, ParserName] = {"trio-httptools": "httptools", "trio-h11": "h11"}

# Every request has a real timeout below this deadline, so a hung transport fails its row
# instead of hanging the file.
CLIENT_TIMEOUT = 3.0
DEFAULT_TIMEOUTS = httpx.Timeout(CLIENT_TIMEOUT)
ROW_DEADLINE = 5.0
MB = 1024 * 1024


def make_transport(
    kind: str,
    *,
    max_connections: int = 10,
    keepalive_expiry: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncBaseTransport:
    if kind == "httpcore":
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
        )
        return httpx.AsyncHTTPTransport(limits=limits, verify=ssl_context or True)
    return TrioTransport(
        max_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
        ssl_context=ssl_context,
        parser=PARSERS[kind],
    )


def each_transport(*, xfail: Mapping[str, str] | None = None) -> pytest.MarkDecorator:
    """Parametrise a row over TRANSPORTS; `xfail` maps a transport to why it fails the row."""
    reasons = xfail or {}
    unknown = set(reasons) - set(TRANSPORTS)
    assert not unknown, f"xfail for unknown transports {unknown}"
    params = [pytest.param(kind, marks=_marks_for(reasons.get(kind))) for kind in TRANSPORTS]
    return pytest.mark.parametrize("kind", params)


def _marks_for(xfail_reason: str | None) -> list[pytest.MarkDecorator]:
    if xfail_reason is None:
        return []
    return [pytest.mark.xfail(strict=True, reason=xfail_reason)]


@asynccontextmanager
async def open_client(
    kind: str,
    *,
    timeouts: httpx.Timeout = DEFAULT_TIMEOUTS,
    max_connections: int = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a fresh transport of `kind`, inside the row's deadline."""
    transport = make_transport(kind, max_connections=max_connections, ssl_context=ssl_context)
    with trio.fail_after(ROW_DEADLINE):
        async with httpx.AsyncClient(transport=transport, timeout=timeouts) as client:
            yield client


def quick(**phases: float) -> httpx.Timeout:
    """The default timeouts, with the given phases (connect, read, write, pool) made short."""
    return httpx.Timeout(CLIENT_TIMEOUT, **phases)


def assert_noticed_promptly(error: httpx.TransportError) -> None:
    """The transport saw the hang-up itself, rather than waiting for a timeout to fire."""
    assert not isinstance(error, httpx.TimeoutException), f"timed out instead: {error!r}"


def echo_target(request: RequestHead) -> bytes:
    return response(body=f"you asked for {request.target}".encode())


def large_body(size: int) -> bytes:
    """`size` bytes that are not all alike, so a misplaced slice changes the digest."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


# 1. keep-alive reuse


@each_transport()
async def test_sequential_requests_reuse_one_keep_alive_connection(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_each(echo_target))
    async with open_client(kind) as client:
        bodies = [(await client.get(f"{server.url}/{n}")).content for n in range(3)]
    assert bodies == [b"you asked for /0", b"you asked for /1", b"you asked for /2"]
    assert server.accepted == 1


# 2. chunked body

CHUNKED_WITH_EXTENSION_AND_TRAILERS = (
    b"HTTP/1.1 200 OK\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Trailer: X-Checksum\r\n"
    b"\r\n"
    b"5;name=value\r\nhello\r\n"
    b"1\r\n \r\n"
    b"A\r\nchunked wo\r\n"
    b"3\r\nrld\r\n"
    b"0\r\n"
    b"X-Checksum: 1234\r\n"
    b"\r\n"
)


@each_transport()
async def test_chunked_body_with_extension_and_trailers_is_exact(
    kind: str, nursery: trio.Nursery
) -> None:
    def reply(request: RequestHead) -> bytes:
        if request.target == "/chunked":
            return CHUNKED_WITH_EXTENSION_AND_TRAILERS
        return response(body=b"next")

    server = await start_server(nursery, answer_each(reply))
    async with open_client(kind) as client:
        chunked = await client.get(f"{server.url}/chunked")
        after = await client.get(f"{server.url}/next")
    assert chunked.content == b"hello chunked world"
    # The trailers were consumed as part of the message: the connection is still in step.
    assert after.content == b"next"
    assert server.accepted == 1


# 3. close-delimited body


async def answer_close_delimited(conn: ServerConnection) -> None:
    request = await conn.read_request()
    if request is None:
        return
    await conn.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    for piece in (b"no length, ", b"just ", f"close on {request.target}".encode()):
        await conn.send(piece)
        await trio.sleep(0.01)  # separate segments, so the client reads several times


@each_transport()
async def test_close_delimited_body_is_exact_and_next_request_opens_new_connection(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_close_delimited)
    async with open_client(kind) as client:
        first = await client.get(f"{server.url}/a")
        second = await client.get(f"{server.url}/b")
    assert first.content == b"no length, just close on /a"
    assert second.content == b"no length, just close on /b"
    assert server.accepted == 2


# 4. early close


async def answer_short_then_close(conn: ServerConnection) -> None:
    if await conn.read_request() is not None:
        await conn.send(response(body=b"only ten b", content_length=100))


@each_transport()
async def test_server_closing_mid_body_raises_transport_error(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_short_then_close)
    async with open_client(kind) as client:
        # httpcore raises httpx.RemoteProtocolError ("peer closed connection without sending
        # complete message body (received 10 bytes, expected 100)").
        with pytest.raises(httpx.TransportError) as failure:
            await client.get(server.url)
    assert_noticed_promptly(failure.value)


# 5. responses without a body


BODYLESS = {
    "HEAD 200 with Content-Length": ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    "GET 204": ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    "GET 304 with Content-Length": (
        "GET",
        b'HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\nETag: "v1"\r\n\r\n',
    ),
}


@each_transport()
@pytest.mark.parametrize("case", list(BODYLESS))
async def test_bodyless_response_is_empty_and_connection_is_reused(
    kind: str, case: str, nursery: trio.Nursery
) -> None:
    method, head = BODYLESS[case]

    def reply(request: RequestHead) -> bytes:
        return head if request.target == "/bodyless" else response(body=b"after")

    server = await start_server(nursery, answer_each(reply))
    async with open_client(kind) as client:
        bodyless = await client.request(method, f"{server.url}/bodyless")
        after = await client.get(f"{server.url}/after")
    assert bodyless.content == b""
    assert after.content == b"after"
    assert server.accepted == 1


# 6. large streamed body

LARGE = 8 * MB
SENT_BEFORE_WAITING = 2 * MB


@each_transport()
async def test_large_body_streams_in_bounded_chunks(kind: str, nursery: trio.Nursery) -> None:
    body = large_body(LARGE)
    first_chunk_read = trio.Event()

    async def respond(conn: ServerConnection) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(response(body=body[:SENT_BEFORE_WAITING], content_length=LARGE))
        # The rest only once the client has a chunk in hand: a transport that buffers the
        # whole body would wait here until the row's deadline.
        await first_chunk_read.wait()
        for start in range(SENT_BEFORE_WAITING, LARGE, 256 * 1024):
            await conn.send(body[start : start + 256 * 1024])

    server = await start_server(nursery, respond)
    digest, total, peak = hashlib.sha256(), 0, 0
    async with open_client(kind) as client, client.stream("GET", server.url) as streamed:
        async for chunk in streamed.aiter_raw():
            first_chunk_read.set()
            digest.update(chunk)
            total += len(chunk)
            peak = max(peak, len(chunk))
    assert total == LARGE
    assert digest.digest() == hashlib.sha256(body).digest()
    assert peak <= MB


# 7. server closes idle connections


async def answer_then_close_when_idle(conn: ServerConnection) -> None:
    """Answer requests; close the connection after 0.1 s without one."""
    while True:
        with trio.move_on_after(0.1):
            request = await conn.read_request()
            if request is None:
                return
            await conn.send(echo_target(request))
            continue
        return


@each_transport()
async def test_request_after_server_closed_idle_connection_uses_new_connection(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_then_close_when_idle)
    async with open_client(kind) as client:
        first = await client.get(f"{server.url}/first")
        await trio.sleep(0.3)
        second = await client.get(f"{server.url}/second")
    assert (first.content, second.content) == (b"you asked for /first", b"you asked for /second")
    assert server.accepted == 2


# 8. timeouts


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_connect_to_listener_that_never_accepts_times_out(kind: str) -> None:
    with full_backlog_listener() as url:
        async with open_client(kind, timeouts=quick(connect=0.3)) as client:
            with pytest.raises(httpx.ConnectTimeout):
                await client.get(url)


async def answer_head_then_stall(conn: ServerConnection) -> None:
    if await conn.read_request() is not None:
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        await trio.sleep_forever()


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_server_stalling_after_head_raises_read_timeout(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_head_then_stall)
    async with open_client(kind, timeouts=quick(read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)


async def answer_each_then_stall_on_the_second(conn: ServerConnection) -> None:
    """Answer the first request on each connection; stall after the second one's head."""
    if await conn.read_request() is not None:
        await conn.send(response(body=b"first"))
    if await conn.read_request() is not None:
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        await trio.sleep_forever()


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_read_timeout_fires_inside_a_later_enclosing_deadline(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_head_then_stall)
    async with open_client(kind, timeouts=quick(read=0.3)) as client:
        with trio.move_on_after(2.0) as enclosing, pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)
    assert not enclosing.cancelled_caught


async def read_then_stall(conn: ServerConnection) -> None:
    """Read the request, never answer."""
    await conn.read_request()
    await trio.sleep_forever()


@pytest.mark.slow  # waits out real timeouts
@each_transport()
@pytest.mark.parametrize("stall", [read_then_stall, answer_head_then_stall], ids=["head", "body"])
async def test_read_timeout_fires_before_a_later_deadline_the_caller_names(
    kind: str, nursery: trio.Nursery, stall: Responder
) -> None:
    # DEADLINE_EXTENSION tells TrioTransport the enclosing deadline instead of it asking trio;
    # a named deadline after the read timeout must not let the read wait for it.
    server = await start_server(nursery, stall)
    async with open_client(kind, timeouts=quick(read=0.3)) as client:
        with trio.move_on_after(2.0) as enclosing, pytest.raises(httpx.ReadTimeout):
            named = {DEADLINE_EXTENSION: trio.current_time() + 2.0}
            await client.get(server.url, extensions=named)
    assert not enclosing.cancelled_caught


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_enclosing_deadline_before_the_read_timeout_cancels_and_pool_recovers(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_each_then_stall_on_the_second)
    async with open_client(kind, timeouts=quick(read=2.5)) as client:
        assert (await client.get(server.url)).content == b"first"
        with trio.move_on_after(0.3) as enclosing:
            await client.get(server.url)  # reuses the connection; the body never comes
        assert enclosing.cancelled_caught
        # The stalled connection was dropped: the next request gets a new one.
        assert (await client.get(server.url)).content == b"first"


async def never_read(conn: ServerConnection) -> None:
    await trio.sleep_forever()


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_server_not_reading_upload_raises_write_timeout(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, never_read)
    upload = bytes(64 * MB)  # far beyond what loopback socket buffers absorb
    async with open_client(kind, timeouts=quick(write=0.3)) as client:
        with pytest.raises(httpx.WriteTimeout):
            await client.post(server.url, content=upload)


@pytest.mark.slow  # waits out real timeouts
@each_transport()
async def test_waiting_for_the_only_connection_raises_pool_timeout(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, answer_each(echo_target))
    async with (
        open_client(kind, max_connections=1) as client,
        client.stream("GET", f"{server.url}/held"),  # holds the only connection
    ):
        with pytest.raises(httpx.PoolTimeout):
            await client.get(f"{server.url}/waiting", timeout=quick(pool=0.2))
    assert server.methods() == ["GET"]


# 9. TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@each_transport()
async def test_tls_get_with_trusted_ca_succeeds(
    kind: str, nursery: trio.Nursery, ca: trustme.CA, server_tls: ssl.SSLContext
) -> None:
    server = await start_server(nursery, answer_each(echo_target), ssl_context=server_tls)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with open_client(kind, ssl_context=trusting) as client:
        secure = await client.get(f"{server.url}/secure")
    assert secure.content == b"you asked for /secure"


@each_transport()
async def test_tls_with_untrusted_certificate_raises_connect_error(
    kind: str, nursery: trio.Nursery, server_tls: ssl.SSLContext
) -> None:
    server = await start_server(nursery, answer_each(echo_target), ssl_context=server_tls)
    untrusting = ssl.create_default_context()
    async with open_client(kind, ssl_context=untrusting) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url)
    assert server.requests == []


# 10. max_connections


async def answer_slowly(conn: ServerConnection) -> None:
    while (request := await conn.read_request()) is not None:
        await trio.sleep(0.1)
        await conn.send(echo_target(request))


@each_transport()
async def test_max_connections_bounds_open_connections(kind: str, nursery: trio.Nursery) -> None:
    server = await start_server(nursery, answer_slowly)
    bodies: list[bytes] = []
    async with open_client(kind, max_connections=2) as client:

        async def fetch(n: int) -> None:
            bodies.append((await client.get(f"{server.url}/{n}")).content)

        async with trio.open_nursery() as requests:
            for n in range(6):
                requests.start_soon(fetch, n)
    assert sorted(bodies) == sorted(f"you asked for /{n}".encode() for n in range(6))
    # Two at once, not fewer: the limit is a bound, not a serialisation.
    assert server.peak_open == 2


# 11. cancellation mid-body


@each_transport()
async def test_cancelling_a_reader_mid_body_leaves_the_pool_usable(
    kind: str, nursery: trio.Nursery
) -> None:
    def reply(request: RequestHead) -> bytes:
        if request.target == "/large":
            return response(body=large_body(LARGE))
        return echo_target(request)

    server = await start_server(nursery, answer_each(reply))
    read = 0
    # One connection: a slot leaked by the cancelled reader would make the next request wait
    # for the pool until it times out.
    async with open_client(kind, max_connections=1) as client:
        with trio.CancelScope() as reading:
            async with client.stream("GET", f"{server.url}/large") as streamed:
                async for chunk in streamed.aiter_raw():
                    read += len(chunk)
                    reading.cancel()  # delivered at the transport's next receive
        after = [(await client.get(f"{server.url}/after/{n}")).content for n in range(2)]
    assert reading.cancelled_caught
    assert 0 < read < LARGE  # cancelled mid-body, not after it
    assert after == [b"you asked for /after/0", b"you asked for /after/1"]


# 12. stale connections
#
# A connection the server closed while it sat idle in the pool has a FIN the client can see
# before reusing it: httpcore polls the socket for readability and opens a new connection, for a
# GET or a POST alike, each sent once. The case that needs a retry decision is a connection that
# still looked alive but is dropped once the request is on it: retry an idempotent GET once,
# raise for a POST.


@each_transport()
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connection_server_closed_while_idle_is_not_reused(
    kind: str, method: str, nursery: trio.Nursery
) -> None:
    """The server closed the pooled connection before the request: detect it, use a new one."""

    async def answer_one_then_close(conn: ServerConnection) -> None:
        if (request := await conn.read_request()) is not None:
            await conn.send(echo_target(request))

    server = await start_server(nursery, answer_one_then_close)
    async with open_client(kind) as client:
        await client.get(f"{server.url}/first")
        await server.wait_closed(1)
        again = await client.request(method, f"{server.url}/again", content=b"payload")
    assert again.content == b"you asked for /again"
    assert server.methods() == ["GET", method]  # sent once, on the new connection
    assert server.accepted == 2


async def drop_second_request_on_first_connection(conn: ServerConnection) -> None:
    """The first connection answers once, then takes the next request and hangs up on it."""
    request = await conn.read_request()
    while request is not None:
        await conn.send(echo_target(request))
        request = await conn.read_request()
        if conn.index == 0:
            return


@each_transport(
    xfail={
        "httpcore": "httpcore never retries: a request on a reused connection that the server "
        "closes without a response raises RemoteProtocolError('Server disconnected without "
        "sending a response.')"
    }
)
async def test_get_dropped_on_reused_connection_is_retried_on_new_one(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, drop_second_request_on_first_connection)
    async with open_client(kind) as client:
        await client.get(f"{server.url}/first")
        again = await client.get(f"{server.url}/again")
    assert again.content == b"you asked for /again"
    assert server.methods() == ["GET", "GET", "GET"]  # the dropped one and its single retry
    assert server.accepted == 2


@each_transport()
async def test_post_dropped_on_reused_connection_raises_and_is_not_retried(
    kind: str, nursery: trio.Nursery
) -> None:
    server = await start_server(nursery, drop_second_request_on_first_connection)
    async with open_client(kind) as client:
        await client.get(f"{server.url}/first")
        # httpcore raises httpx.RemoteProtocolError ("Server disconnected without sending a
        # response.").
        with pytest.raises(httpx.TransportError) as failure:
            await client.post(f"{server.url}/again", content=b"payload")
    assert_noticed_promptly(failure.value)
    assert server.methods() == ["GET", "POST"]
    assert server.accepted == 1  # no second connection: the POST was not retried
