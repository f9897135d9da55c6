"""TrioTransport against in-process servers on 127.0.0.1 that write exact bytes.

Every behaviour is proven for both parsers. The server (`serve_raw`) reads requests itself
and hands each to a test's responder, which writes whatever bytes it likes; it counts
accepted, open and client-closed connections, so reuse and the connection bound are checked
from the server's side.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import attrs
import httpx
import pytest
import trio
import trustme

from trio_crawl.crawling.failures import classify_exception
from trio_crawl.engine.results import ErrorKind
from trio_crawl.transport import TrioTransport
from trio_crawl.transport.body import ResponseStream
from trio_crawl.transport.parsers import MAX_HEAD_BYTES
from trio_crawl.transport.request_head import request_head

PARSERS = ["httptools", "h11"]


@attrs.frozen
class RawRequest:
    method: bytes
    target: bytes
    headers: dict[bytes, bytes]
    body: bytes


@attrs.define
class RawServer:
    """What the server saw; `url` is its base URL."""

    url: str
    accepts: int = 0
    open_now: int = 0
    max_open: int = 0
    client_closes: int = 0
    """Connections on which the client closed first (EOF or reset while we waited to read)."""
    finished: int = 0
    """Connections whose handler is over (the socket closed by us or by the client)."""
    requests: list[RawRequest] = attrs.Factory(list)
    changed: trio.Event = attrs.Factory(trio.Event)

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, condition: Callable[[RawServer], bool]) -> None:
        with trio.fail_after(5):
            while not condition(self):
                await self.changed.wait()


Responder = Callable[[trio.SocketStream, RawRequest, int], Awaitable[bool]]
"""Answers the n-th request (from 0, across connections); False closes the connection."""


async def _read_request(stream: trio.SocketStream, buffer: bytearray) -> RawRequest | None:
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some(65536)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n")
    lines = bytes(buffer[:end]).split(b"\r\n")
    del buffer[: end + 4]
    method, target, _ = lines[0].split(b" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        size = int(headers[b"content-length"])
        while len(buffer) < size:
            buffer += await stream.receive_some(65536)
        body = bytes(buffer[:size])
        del buffer[:size]
    elif headers.get(b"transfer-encoding") == b"chunked":
        while b"0\r\n\r\n" not in buffer:
            buffer += await stream.receive_some(65536)
        end = buffer.index(b"0\r\n\r\n") + 5
        body = bytes(buffer[:end])
        del buffer[:end]
    else:
        body = b""
    return RawRequest(method, target, headers, body)


async def _serve_connection(
    respond: Responder, server: RawServer, stream: trio.SocketStream
) -> None:
    server.accepts += 1
    server.open_now += 1
    server.max_open = max(server.max_open, server.open_now)
    server.notify()
    buffer = bytearray()
    try:
        while True:
            try:
                request = await _read_request(stream, buffer)
            except trio.BrokenResourceError:
                request = None
            if request is None:
                server.client_closes += 1
                return
            index = len(server.requests)
            server.requests.append(request)
            server.notify()
            if not await respond(stream, request, index):
                return
    except trio.BrokenResourceError:
        return
    finally:
        server.open_now -= 1
        server.finished += 1
        await trio.aclose_forcefully(stream)
        server.notify()


async def serve_raw(
    respond: Responder,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[RawServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    listeners: list[trio.abc.Listener[trio.abc.Stream]] = list(
        await trio.open_tcp_listeners(0, host="127.0.0.1")
    )
    port = listeners[0].socket.getsockname()[1]  # type: ignore[attr-defined]
    scheme = "http"
    if ssl_context is not None:
        listeners = [
            trio.SSLListener(listener, ssl_context, https_compatible=True) for listener in listeners
        ]
        scheme = "https"
    server = RawServer(
        url=f"{scheme}://127.0.0.1:{port}" if scheme == "http" else f"https://localhost:{port}"
    )
    task_status.started(server)
    await trio.serve_listeners(partial(_serve_connection, respond, server), listeners)


def response(body: bytes = b"hello", *headers: bytes, status: bytes = b"200 OK") -> bytes:
    """An HTTP/1.1 response with a Content-Length, and `headers` (full lines) before it."""
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


def always(data: bytes, *, keep_open: bool = True) -> Responder:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(data)
        return keep_open

    return respond


def client(parser: str, **options: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=TrioTransport(parser=parser, **options))  # type: ignore[arg-type]


def pool_of(client: httpx.AsyncClient) -> TrioTransport:
    transport = client._transport
    assert isinstance(transport, TrioTransport)
    return transport


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- framing ---------------------------------------------------------------------------------


async def test_keep_alive_serves_two_requests_on_one_connection(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response(b"<p>hi</p>", b"x-page: 1")))
    async with client(parser) as c:
        first = await c.get(server.url + "/a?q=1")
        second = await c.get(server.url + "/b")
        assert pool_of(c).pool.open_connections == 1
        assert pool_of(c).pool.idle_connections == 1
    assert (first.status_code, first.text, first.headers["x-page"]) == (200, "<p>hi</p>", "1")
    assert first.http_version == "HTTP/1.1"
    assert first.reason_phrase == "OK"
    assert second.text == "<p>hi</p>"
    assert server.accepts == 1
    assert [r.target for r in server.requests] == [b"/a?q=1", b"/b"]
    assert server.requests[0].headers[b"host"] == server.url.split("//")[1].encode()


async def test_chunked_body_is_joined_and_the_connection_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"abc", b"defgh", b"i" * 70000):
            await stream.send_all(b"%x\r\n%b\r\n" % (len(part), part))
            await trio.sleep(0.001)
        await stream.send_all(b"0\r\n\r\n")
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        first = await c.get(server.url)
        second = await c.get(server.url)
    assert first.content == second.content == b"abcdefgh" + b"i" * 70000
    assert server.accepts == 1


async def test_close_delimited_body_ends_at_eof_and_its_connection_is_not_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(
        serve_raw,
        always(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\nuntil the end", keep_open=False),
    )
    async with client(parser) as c:
        first = await c.get(server.url)
        second = await c.get(server.url)
        assert pool_of(c).pool.open_connections == 0
    assert first.content == second.content == b"until the end"
    assert server.accepts == 2


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", b"200 OK"), ("GET", b"304 Not Modified"), ("GET", b"204 No Content")],
)
async def test_responses_without_a_body_ignore_their_content_length(
    nursery: trio.Nursery, parser: str, method: str, status: bytes
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 0:
            await stream.send_all(
                f"HTTP/1.1 {status.decode()}\r\ncontent-length: 100\r\n\r\n".encode()
            )
        else:
            await stream.send_all(response(b"next"))
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        empty = await c.request(method, server.url)
        after = await c.get(server.url)
    assert empty.content == b""
    assert empty.headers["content-length"] == "100"
    assert after.content == b"next"
    assert server.accepts == 1


async def test_a_server_saying_connection_close_is_not_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response(b"bye", b"Connection: close")))
    async with client(parser) as c:
        await c.get(server.url)
        await c.get(server.url)
        assert pool_of(c).pool.open_connections == 0
    assert server.accepts == 2


@pytest.mark.parametrize(("extra", "reused"), [((), False), ((b"Connection: keep-alive",), True)])
async def test_http_1_0_responses_are_kept_alive_only_when_they_say_so(
    nursery: trio.Nursery, parser: str, extra: tuple[bytes, ...], reused: bool
) -> None:
    head = b"HTTP/1.0 200 OK\r\n" + b"".join(h + b"\r\n" for h in extra)
    server = await nursery.start(serve_raw, always(head + b"content-length: 2\r\n\r\nok"))
    async with client(parser) as c:
        first = await c.get(server.url)
        second = await c.get(server.url)
    assert first.http_version == "HTTP/1.0"
    assert first.content == second.content == b"ok"
    assert server.accepts == (1 if reused else 2)


async def test_informational_responses_are_skipped(nursery: trio.Nursery, parser: str) -> None:
    server = await nursery.start(
        serve_raw, always(b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>\r\n\r\n" + response(b"real"))
    )
    async with client(parser) as c:
        answer = await c.get(server.url)
    assert (answer.status_code, answer.content) == (200, b"real")
    assert "link" not in answer.headers


# --- streaming ------------------------------------------------------------------------------

BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)


async def test_a_5_mb_body_streams_in_chunks_then_the_connection_is_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 0:
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(BIG))
            for start in range(0, len(BIG), 1 << 20):
                await stream.send_all(BIG[start : start + (1 << 20)])
        else:
            await stream.send_all(response(b"small"))
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        chunks = []
        async with c.stream("GET", server.url) as streamed:
            async for chunk in streamed.aiter_raw():
                chunks.append(len(chunk))
                if len(chunks) == 1:
                    # Mid-body, the connection is in use, not idle.
                    assert pool_of(c).pool.idle_connections == 0
        assert sum(chunks) == len(BIG)
        assert len(chunks) > 10
        assert max(chunks) <= 65536
        assert (await c.get(server.url)).content == b"small"
    assert server.accepts == 1


async def test_closing_a_response_early_closes_its_connection(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 0:
            # The client must hang up rather than read on (with unread data in its socket, its
            # close may be a reset, and may come while we are still sending).
            try:
                await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(BIG))
                await stream.send_all(BIG[:100_000])
                assert await stream.receive_some(10) == b""
            except trio.BrokenResourceError:
                pass
            server.client_closes += 1
            return False
        await stream.send_all(response(b"fresh"))
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        async with c.stream("GET", server.url) as streamed:
            async for _chunk in streamed.aiter_raw():
                break
        await server.wait_for(lambda s: s.client_closes == 1)
        assert pool_of(c).pool.open_connections == 0
        assert (await c.get(server.url)).content == b"fresh"
        assert pool_of(c).pool.open_connections == 1
    assert server.accepts == 2


@pytest.mark.parametrize("read", ["httpx", "read_into"])
async def test_cancelling_mid_body_leaves_the_pool_consistent(
    nursery: trio.Nursery, parser: str, read: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 0:
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nabc")
            await trio.sleep_forever()
        await stream.send_all(response(b"after"))
        return True

    server = await nursery.start(serve_raw, respond)
    fed: list[bytes] = []
    async with client(parser, max_connections=1) as c:
        with trio.move_on_after(0.2):
            if read == "httpx":
                await c.get(server.url)
            else:  # as the Fetcher reads a body on this transport
                await _read_into(c, server.url, fed.append)
        assert fed == ([] if read == "httpx" else [b"abc"])
        assert pool_of(c).pool.open_connections == 0
        assert (await c.get(server.url, timeout=httpx.Timeout(5, pool=1))).content == b"after"


async def _read_into(c: httpx.AsyncClient, url: str, feed: Callable[[bytes], object]) -> int:
    """Read a response's body as the Fetcher does on this transport (straight from it, as
    its Sender sends): `read_into`, no generator. The idle connections right after it, before
    the response is closed (a body read to its end gives its connection back by itself)."""
    request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(5).as_dict()})
    response = await pool_of(c).handle_async_request(request)
    try:
        stream = response.stream
        assert isinstance(stream, ResponseStream)
        await stream.read_into(feed)
        return pool_of(c).pool.idle_connections
    finally:
        await response.aclose()


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_read_into_gives_the_chunks_iterating_gives_then_releases_the_connection(
    nursery: trio.Nursery, parser: str, framing: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if framing == "chunked":
            head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            pieces = [BIG[i : min(i + 300_000, 1_000_000)] for i in range(0, 1_000_000, 300_000)]
            chunked = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces)
            await stream.send_all(head + chunked + b"0\r\n\r\n")
            return True
        if framing == "close":
            await stream.send_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + BIG[:1_000_000])
            return False
        await stream.send_all(response(BIG[:1_000_000]))
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        fed: list[bytes] = []
        idle = await _read_into(c, server.url, fed.append)
        assert idle == (0 if framing == "close" else 1)
        assert b"".join(fed) == BIG[:1_000_000]
        assert len(fed) > 1  # streamed in pieces, not buffered whole
        assert (await c.get(server.url)).content == b"".join(fed)  # httpx's own reading
        # Read to the end: kept for reuse, unless the server said it closes.
        assert pool_of(c).pool.idle_connections == (0 if framing == "close" else 1)
    assert server.accepts == (2 if framing == "close" else 1)


async def test_a_feed_that_raises_stops_read_into_and_closes_the_connection(
    nursery: trio.Nursery, parser: str
) -> None:
    # The Fetcher's bounded body raises when a page is over its limit: the rest of the body is
    # still on the wire, so that connection must not go back to the pool.
    server = await nursery.start(serve_raw, always(response(BIG[:2_000_000])))
    fed: list[int] = []

    def feed(chunk: bytes) -> None:
        fed.append(len(chunk))
        if sum(fed) > 100_000:
            raise ValueError("too large")

    async with client(parser, max_connections=1) as c:
        with pytest.raises(ValueError, match="too large"):
            await _read_into(c, server.url, feed)
        assert pool_of(c).pool.open_connections == 0
        assert len((await c.get(server.url, timeout=httpx.Timeout(5, pool=1))).content) == 2_000_000
    assert server.accepts == 2


# --- stale connections ----------------------------------------------------------------------


def answer_then_hang_up_silently() -> Responder:
    """Answers as if keeping the connection alive, then closes it (as servers do when their
    keep-alive timer fires)."""

    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(response(b"page %d" % index))
        return False

    return respond


async def test_a_stale_idle_connection_is_retried_once_for_get(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, answer_then_hang_up_silently())
    async with client(parser) as c:
        assert (await c.get(server.url)).content == b"page 0"
        await server.wait_for(lambda s: s.finished == 1)
        assert pool_of(c).pool.idle_connections == 1  # the client cannot know yet
        assert (await c.get(server.url)).content == b"page 1"
    assert server.accepts == 2
    assert len(server.requests) == 2  # the stale connection never delivered the retried request


async def test_a_post_sees_the_server_closed_its_idle_connection_and_uses_a_new_one(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, answer_then_hang_up_silently())
    async with client(parser) as c:
        await c.post(server.url, content=b"first")
        await server.wait_for(lambda s: s.finished == 1)
        assert (await c.post(server.url, content=b"second")).content == b"page 1"
    assert server.accepts == 2
    assert [r.body for r in server.requests] == [b"first", b"second"]  # each sent once


def hang_up_on_the_second_request() -> Responder:
    """The first connection answers once, then reads the next request and drops it."""

    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 1:
            return False
        await stream.send_all(response(b"page %d" % index))
        return True

    return respond


async def test_a_post_dropped_on_a_reused_connection_is_not_retried(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, hang_up_on_the_second_request())
    async with client(parser) as c:
        await c.post(server.url, content=b"first")
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a complete"):
            await c.post(server.url, content=b"second")
        assert pool_of(c).pool.open_connections == 0
    assert server.accepts == 1
    assert [r.body for r in server.requests] == [b"first", b"second"]


async def test_a_get_dropped_on_a_reused_connection_is_retried(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, hang_up_on_the_second_request())
    async with client(parser) as c:
        await c.get(server.url)
        assert (await c.get(server.url)).content == b"page 2"
    assert server.accepts == 2


async def test_a_reset_on_a_reused_connection_is_retried_for_get(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(response(b"page %d" % index))
        if index == 0:
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        await c.get(server.url)
        await server.wait_for(lambda s: s.finished == 1)
        assert (await c.get(server.url)).content == b"page 1"
    assert server.accepts == 2


async def test_an_idle_connection_past_keepalive_expiry_is_not_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response()))
    async with client(parser, keepalive_expiry=0.05) as c:
        await c.get(server.url)
        await trio.sleep(0.1)
        await c.get(server.url)
        assert pool_of(c).pool.open_connections == 1
    assert server.accepts == 2


async def test_idle_connections_are_reused_newest_first(nursery: trio.Nursery, parser: str) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index < 2:
            await trio.sleep(0.05)  # keep both busy at once, so that two connections open
        port = stream.socket.getpeername()[1]
        await stream.send_all(response(str(port).encode()))
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        ports: list[bytes] = []

        async def fetch(delay: float) -> None:
            await trio.sleep(delay)
            ports.append((await c.get(server.url)).content)

        async with trio.open_nursery() as both:
            both.start_soon(fetch, 0)
            both.start_soon(fetch, 0.01)
        newest = ports[-1]
        assert (await c.get(server.url)).content == newest
    assert server.accepts == 2


# --- timeouts and errors --------------------------------------------------------------------


async def test_a_silent_server_raises_read_timeout(nursery: trio.Nursery, parser: str) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await trio.sleep_forever()
        return False

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        with pytest.raises(httpx.ReadTimeout) as caught:
            await c.get(server.url, timeout=httpx.Timeout(5, read=0.2))
        assert pool_of(c).pool.open_connections == 0
    error = classify_exception(caught.value)
    assert error is not None and error.kind is ErrorKind.network_timeout


async def test_a_stalled_body_raises_read_timeout(nursery: trio.Nursery, parser: str) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await trio.sleep_forever()
        return False

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get(server.url, timeout=httpx.Timeout(5, read=0.2))
        assert pool_of(c).pool.open_connections == 0


async def test_connection_refused_raises_connect_error(parser: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with client(parser) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(f"http://127.0.0.1:{port}/")
        assert pool_of(c).pool.open_connections == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ncontent-le", httpx.RemoteProtocolError),
        (b"", httpx.RemoteProtocolError),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", httpx.RemoteProtocolError),
        (
            b"HTTP/1.1 200 OK\r\nx-pad: " + b"a" * 2 * MAX_HEAD_BYTES + b"\r\n\r\n",
            httpx.RemoteProtocolError,
        ),
    ],
    ids=["body cut short", "head cut short", "no response", "bad status", "bad chunk", "huge head"],
)
async def test_broken_responses_raise_remote_protocol_error(
    nursery: trio.Nursery, parser: str, data: bytes, error: type[Exception]
) -> None:
    server = await nursery.start(serve_raw, always(data, keep_open=False))
    async with client(parser) as c:
        with pytest.raises(error):
            await c.get(server.url)
        assert pool_of(c).pool.open_connections == 0
    assert server.accepts == 1  # a fresh connection is never retried


async def test_a_reset_mid_body_raises_read_error(nursery: trio.Nursery, parser: str) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
        await trio.sleep(0.05)
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    server = await nursery.start(serve_raw, respond)
    async with client(parser) as c:
        with pytest.raises(httpx.ReadError):
            await c.get(server.url)
        assert pool_of(c).pool.open_connections == 0


# --- the connection bound -------------------------------------------------------------------


async def test_five_concurrent_requests_share_two_connections(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await trio.sleep(0.05)
        await stream.send_all(response(b"n%d" % index))
        return True

    server = await nursery.start(serve_raw, respond)
    bodies: list[bytes] = []
    async with client(parser, max_connections=2) as c:

        async def fetch() -> None:
            bodies.append((await c.get(server.url)).content)

        async with trio.open_nursery() as five:
            for _ in range(5):
                five.start_soon(fetch)
        assert pool_of(c).pool.open_connections == 2
    assert sorted(bodies) == [b"n%d" % i for i in range(5)]
    assert server.max_open == 2
    assert server.accepts == 2


async def test_waiting_longer_than_the_pool_timeout_raises_pool_timeout(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        if index == 0:
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await trio.sleep(0.3)
            await stream.send_all(b"defghij")
        else:
            await stream.send_all(response())
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser, max_connections=1) as c, c.stream("GET", server.url) as held:
        with pytest.raises(httpx.PoolTimeout):
            await c.get(server.url, timeout=httpx.Timeout(5, pool=0.1))
        assert await held.aread() == b"abcdefghij"
        assert (await c.get(server.url, timeout=httpx.Timeout(5, pool=0.1))).content == b"hello"
    assert server.accepts == 1


async def test_an_idle_connection_of_another_origin_makes_room(
    nursery: trio.Nursery, parser: str
) -> None:
    first = await nursery.start(serve_raw, always(response(b"one")))
    second = await nursery.start(serve_raw, always(response(b"two")))
    async with client(parser, max_connections=1) as c:
        assert (await c.get(first.url)).content == b"one"
        assert (await c.get(second.url)).content == b"two"
        await first.wait_for(lambda s: s.client_closes == 1)
        assert pool_of(c).pool.open_connections == 1


async def test_aclose_closes_idle_connections(nursery: trio.Nursery, parser: str) -> None:
    server = await nursery.start(serve_raw, always(response()))
    transport = TrioTransport(parser=parser)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport) as c:
        await c.get(server.url)
    await server.wait_for(lambda s: s.client_closes == 1)
    assert transport.pool.open_connections == 0


# --- request bodies, TLS --------------------------------------------------------------------


async def test_request_bodies_are_sent_with_length_or_chunked(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response()))

    async def parts() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b""
        yield b"cde"

    async with client(parser) as c:
        await c.put(server.url, content=b"x" * 100_000)
        await c.post(server.url, content=parts())
    assert server.requests[0].body == b"x" * 100_000
    assert server.requests[1].headers[b"transfer-encoding"] == b"chunked"
    assert server.requests[1].body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    assert server.accepts == 1


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


async def test_https_verifies_the_server_with_the_given_context(
    nursery: trio.Nursery, parser: str, certificate_authority: trustme.CA
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("localhost").configure_cert(server_context)
    server = await nursery.start(
        partial(serve_raw, always(response(b"secret")), ssl_context=server_context)
    )
    trusting = ssl.create_default_context()
    certificate_authority.configure_trust(trusting)
    async with client(parser, ssl_context=trusting) as c:
        assert (await c.get(server.url)).content == b"secret"
        assert (await c.get(server.url)).content == b"secret"
    assert server.accepts == 1
    async with client(parser) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(server.url)
        assert pool_of(c).pool.open_connections == 0


# --- the request head -----------------------------------------------------------------------


def test_the_request_head_is_httpx_s_headers_verbatim() -> None:
    request = httpx.Request("GET", "http://example.com/a/b?c=d", headers={"X-Thing": "1"})
    head = request_head(request, {})
    assert head.data == (b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Thing: 1\r\n\r\n")
    assert (head.has_body, head.chunked, head.close) == (False, False, False)


def test_a_header_with_a_line_break_is_refused() -> None:
    request = httpx.Request("GET", "http://example.com/")
    request.headers["x-bad"] = "a\r\nx-smuggled: 1"
    with pytest.raises(httpx.LocalProtocolError):
        request_head(request, {})


# --- more of the pool -----------------------------------------------------------------------


async def test_max_keepalive_connections_bounds_the_idle_ones(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await trio.sleep(0.05)
        await stream.send_all(response())
        return True

    server = await nursery.start(serve_raw, respond)
    async with client(parser, max_keepalive_connections=1) as c:
        async with trio.open_nursery() as three:
            for _ in range(3):
                three.start_soon(c.get, server.url)
        assert pool_of(c).pool.idle_connections == 1
        assert pool_of(c).pool.open_connections == 1
    assert server.accepts == 3


async def test_a_request_saying_connection_close_is_not_reused(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response()))
    async with client(parser) as c:
        await c.get(server.url, headers={"connection": "close"})
        assert pool_of(c).pool.open_connections == 0
        await c.get(server.url)
    assert server.accepts == 2


async def test_closing_the_transport_fails_a_body_being_read(
    nursery: trio.Nursery, parser: str
) -> None:
    async def respond(stream: trio.SocketStream, request: RawRequest, index: int) -> bool:
        await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        assert await stream.receive_some(10) == b""  # until the client hangs up
        return False

    server = await nursery.start(serve_raw, respond)
    transport = TrioTransport(parser=parser)  # type: ignore[arg-type]
    c = httpx.AsyncClient(transport=transport)
    async with c.stream("GET", server.url) as streamed:
        await transport.aclose()
        with pytest.raises(httpx.ReadError):
            await streamed.aread()
    assert transport.pool.open_connections == 0
    await server.wait_for(lambda s: s.finished == 1)


async def test_a_full_accept_queue_raises_connect_timeout(parser: str) -> None:
    # Linux drops SYNs to a listener whose backlog (0: one connection) is full, so the
    # handshake never completes.
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        async with client(parser) as c:
            with pytest.raises(httpx.ConnectTimeout):
                await c.get(url, timeout=httpx.Timeout(5, connect=0.2))
            assert pool_of(c).pool.open_connections == 0


async def test_a_server_not_reading_the_body_raises_write_timeout(
    nursery: trio.Nursery, parser: str
) -> None:
    async def never_read(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, never_read, listeners)
    async with client(parser) as c:
        with pytest.raises(httpx.WriteTimeout):
            await c.put(
                f"http://127.0.0.1:{port}/",
                content=b"x" * (64 << 20),
                timeout=httpx.Timeout(5, write=0.2),
            )
        assert pool_of(c).pool.open_connections == 0


async def test_an_answer_sent_before_the_server_stopped_reading_is_returned(
    nursery: trio.Nursery, parser: str
) -> None:
    async def refuse(stream: trio.SocketStream) -> None:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += await stream.receive_some(65536)
        await stream.send_all(response(b"too large", b"connection: close", status=b"413 Too Large"))
        stream.socket.shutdown(socket.SHUT_WR)
        await trio.sleep(0.1)
        await trio.aclose_forcefully(stream)  # with the body unread: a reset

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, refuse, listeners)
    async with client(parser) as c:
        answer = await c.put(f"http://127.0.0.1:{port}/", content=b"x" * (64 << 20))
        assert (answer.status_code, answer.content) == (413, b"too large")
        assert pool_of(c).pool.open_connections == 0


async def test_a_response_holds_its_connection_until_closed_even_when_all_in(
    nursery: trio.Nursery, parser: str
) -> None:
    server = await nursery.start(serve_raw, always(response(b"small")))
    async with client(parser, max_connections=1) as c:
        async with c.stream("GET", server.url):  # never read: a redirect, a 404
            with pytest.raises(httpx.PoolTimeout):
                await c.get(server.url, timeout=httpx.Timeout(5, pool=0.1))
        # Closed unread, but nothing of it was left on the wire: the connection is kept.
        assert pool_of(c).pool.idle_connections == 1
        assert (await c.get(server.url)).content == b"small"
    assert server.accepts == 1
