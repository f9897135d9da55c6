"""A tiny HTTP/1.1 server on 127.0.0.1 for tests (h11 on trio), with misbehaviour on request.

    base_url = await nursery.start(serve_routes, {"/": Reply(body=b"<p>hi</p>")})

A route maps a path (query string ignored) to a `Reply`, or to an async callable that takes the
`Request` and returns one. Unknown paths get a 404. A `Reply` can be slow (`delay`), drip its
body (`drip`), lie about its length and hang up (`truncate_to`), use chunked framing (`chunked`),
hang up without answering (`hang_up`) or reset the connection (`reset`).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial

import attrs
import h11
import trio

HTML = (("content-type", "text/html; charset=utf-8"),)


@attrs.frozen
class Request:
    """What a handler gets: the request line, headers and the client's address."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    peer: tuple[str, int]

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@attrs.frozen
class Reply:
    """How to answer one request."""

    status: int = 200
    headers: Sequence[tuple[str, str]] = HTML
    body: bytes = b""
    delay: float = 0.0  # seconds (trio clock) before the response head
    drip: float = 0.0  # seconds between body chunks
    chunk_size: int = 16384
    chunked: bool = False  # no Content-Length: Transfer-Encoding: chunked
    truncate_to: int | None = None  # announce len(body), send this many bytes, hang up
    hang_up: bool = False  # close without any response
    reset: bool = False  # abort the connection with a TCP RST


Handler = Reply | Callable[[Request], Awaitable[Reply]]


async def serve_routes(
    routes: Mapping[str, Handler],
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `routes` on 127.0.0.1 (a free port) until cancelled; `started()` gets the base URL."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    task_status.started(f"http://127.0.0.1:{port}")
    await trio.serve_listeners(partial(_serve_connection, routes), listeners)


async def _serve_connection(routes: Mapping[str, Handler], stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER)
    peer = stream.socket.getpeername()
    try:
        while True:
            event = await _next_event(conn, stream)
            if not isinstance(event, h11.Request):
                return
            while not isinstance(await _next_event(conn, stream), h11.EndOfMessage):
                pass
            request = Request(
                method=event.method.decode(),
                target=event.target.decode(),
                headers=tuple((k.decode(), v.decode()) for k, v in event.headers),
                peer=(peer[0], peer[1]),
            )
            handler = routes.get(request.path, Reply(status=404, body=b"not found"))
            reply = handler if isinstance(handler, Reply) else await handler(request)
            if not await _respond(conn, stream, reply):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except (trio.BrokenResourceError, h11.RemoteProtocolError):
        return  # the client went away or spoke nonsense; either way this connection is over
    finally:
        await stream.aclose()


async def _next_event(conn: h11.Connection, stream: trio.SocketStream) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await stream.receive_some(65536))


async def _respond(conn: h11.Connection, stream: trio.SocketStream, reply: Reply) -> bool:
    """Send `reply`; False when the connection must now be dropped."""
    if reply.delay:
        await trio.sleep(reply.delay)
    if reply.reset:
        # SO_LINGER with a zero timeout turns close() into an RST instead of a FIN.
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if reply.hang_up:
        return False
    headers = list(reply.headers)
    if not reply.chunked:
        headers.append(("content-length", str(len(reply.body))))
    await stream.send_all(conn.send(h11.Response(status_code=reply.status, headers=headers)))
    body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
    for start in range(0, len(body), reply.chunk_size):
        if reply.drip and start:
            await trio.sleep(reply.drip)
        await stream.send_all(conn.send(h11.Data(data=body[start : start + reply.chunk_size])))
    if reply.truncate_to is not None:
        return False
    await stream.send_all(conn.send(h11.EndOfMessage()))
    return True
