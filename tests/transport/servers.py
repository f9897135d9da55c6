"""Raw-socket HTTP/1.1 responders on 127.0.0.1 whose every byte is scripted by the test.

    server = await start_server(nursery, answer_each(lambda request: response(body=b"hi")))

`start_server` calls the responder once per accepted connection with a `ServerConnection`; the
responder reads request heads and sends whatever bytes it likes (wrong lengths, stalls, early
closes). When the responder returns the server closes the connection. The `ScriptedServer`
counts what it saw: connections accepted, connections open at once, requests read.

`full_backlog_listener` is the other kind of server: one that never accepts, so a connect
attempt to it hangs (the connect-timeout row).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial

import attrs
import trio

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 65536


@attrs.frozen
class RequestHead:
    """One request as the server read it (the body only when it had a Content-Length)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class ServerConnection:
    """One accepted connection, as a scripted responder sees it."""

    def __init__(self, stream: trio.abc.Stream, server: ScriptedServer) -> None:
        self._stream = stream
        self._server = server
        self._buffer = bytearray()
        self.index = server.accepted - 1  # 0 for the server's first connection

    async def read_request(self, *, read_body: bool = True) -> RequestHead | None:
        """The next request head (and its Content-Length body); None when the client hung up."""
        while _HEAD_END not in self._buffer:
            if len(self._buffer) > _MAX_HEAD:
                raise ValueError("request head too long")
            data = await self._stream.receive_some(65536)
            if not data:
                return None
            self._buffer += data
        head, _, rest = bytes(self._buffer).partition(_HEAD_END)
        self._buffer = bytearray(rest)
        request = _parse_head(head)
        if read_body:
            request = attrs.evolve(request, body=await self._read_exactly(_body_length(request)))
        self._server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def receive_raw(self) -> bytes:
        """The next bytes from the client, unparsed (b"" when it hung up), also kept in
        `ScriptedServer.received`."""
        data = bytes(self._buffer) or bytes(await self._stream.receive_some(65536))
        self._buffer.clear()
        self._server.received += data
        return data

    async def record_until_eof(self) -> None:
        """Keep every byte the client sends in `ScriptedServer.received`, until it hangs up
        (for requests that must never reach the wire)."""
        while await self.receive_raw():
            pass

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            data = await self._stream.receive_some(65536)
            if not data:
                raise trio.BrokenResourceError("client hung up mid-body")
            self._buffer += data
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        return body


Responder = Callable[[ServerConnection], Awaitable[None]]


@attrs.define
class ScriptedServer:
    """What the server saw; `url` is where to send requests."""

    url: str = ""
    accepted: int = 0
    open_now: int = 0
    peak_open: int = 0
    closed: int = 0
    requests: list[RequestHead] = attrs.Factory(list)
    received: bytearray = attrs.Factory(bytearray)
    """What `ServerConnection.record_until_eof` read, all connections together."""
    _closing: trio.Event = attrs.Factory(trio.Event)  # set, then replaced, at each close

    def methods(self) -> list[str]:
        return [request.method for request in self.requests]

    async def wait_closed(self, count: int) -> None:
        """Return once the server has closed `count` connections in all."""
        while self.closed < count:
            await self._closing.wait()

    async def _serve(self, respond: Responder, stream: trio.abc.Stream) -> None:
        self.accepted += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        try:
            # A client that hangs up, or fails the TLS handshake, just ends its connection.
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await respond(ServerConnection(stream, self))
        finally:
            self.open_now -= 1
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.aclose()
            self.closed += 1
            self._closing.set()
            self._closing = trio.Event()


async def start_server(
    nursery: trio.Nursery, respond: Responder, *, ssl_context: ssl.SSLContext | None = None
) -> ScriptedServer:
    """Serve on a free loopback port until `nursery` is cancelled (TLS with `ssl_context`)."""
    server = ScriptedServer()
    handler = partial(server._serve, respond)
    if ssl_context is None:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        scheme = "http"
    else:
        serve_tls = partial(
            trio.serve_ssl_over_tcp,
            handler,
            0,
            ssl_context,
            host="127.0.0.1",
            https_compatible=True,
        )
        listeners = await nursery.start(serve_tls)
        scheme = "https"
    server.url = f"{scheme}://127.0.0.1:{_port_of(listeners[0])}"
    return server


def answer_each(reply: Callable[[RequestHead], bytes]) -> Responder:
    """A keep-alive responder: every request on the connection gets `reply(request)`."""

    async def respond(conn: ServerConnection) -> None:
        while (request := await conn.read_request()) is not None:
            await conn.send(reply(request))

    return respond


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    content_length: int | None = None,
) -> bytes:
    """Response bytes; Content-Length is `len(body)` unless given (or listed in `headers`)."""
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Whatever')}"]
    head += [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() == "content-length" for name, _ in headers):
        head.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    return "\r\n".join(head).encode("latin-1") + _HEAD_END + body


@contextmanager
def full_backlog_listener(*, queued: int = 4) -> Iterator[str]:
    """The URL of a loopback listener that never accepts and whose backlog is already full.

    Linux drops a SYN while the accept queue is full, so a further connect attempt hangs until
    the client's connect timeout.
    """
    listener = socket.socket()
    fillers = [socket.socket() for _ in range(queued)]
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(address)
        yield f"http://{address[0]}:{address[1]}"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


_REASONS = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found"}


def _parse_head(head: bytes) -> RequestHead:
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    return RequestHead(method=method, target=target, headers=headers)


def _body_length(request: RequestHead) -> int:
    if request.header("transfer-encoding") is not None:
        raise ValueError("chunked request bodies are not scripted by these tests")
    return int(request.header("content-length") or 0)


def _port_of(listener: trio.abc.Listener[trio.abc.Stream]) -> int:
    if isinstance(listener, trio.SSLListener):
        listener = listener.transport_listener
    assert isinstance(listener, trio.SocketListener)
    port: int = listener.socket.getsockname()[1]
    return port
