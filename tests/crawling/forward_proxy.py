"""A small HTTP forward proxy on 127.0.0.1 for tests (h11 on trio), recording what it relays.

    proxy = await nursery.start(serve_forward_proxy)
    ...  # a client configured with proxy=proxy.url
    assert proxy.relayed[0].target == "http://127.0.0.1:PORT/page"

It answers absolute-form requests (``GET http://host:port/path HTTP/1.1``, what a client sends
to a plain-HTTP proxy) by making the request itself with its own httpx client (no environment,
no proxy of its own) and relaying the status, headers and raw body back. A request in origin
form (not meant for a proxy) gets a 400, so a client that bypassed the proxy settings but
reached it anyway would be noticed. CONNECT (https through the proxy) is not supported.
"""

from __future__ import annotations

from functools import partial

import attrs
import h11
import httpx
import trio

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


@attrs.frozen
class Relayed:
    """One request the proxy relayed: its target as the client sent it, and its headers."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None


@attrs.define
class ForwardProxy:
    url: str
    relayed: list[Relayed] = attrs.field(factory=list)
    refused: int = 0


async def serve_forward_proxy(
    *, task_status: trio.TaskStatus[ForwardProxy] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve until cancelled; `started()` gets the `ForwardProxy` with its URL and records."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    proxy = ForwardProxy(url=f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as upstream:
        task_status.started(proxy)
        await trio.serve_listeners(partial(_serve, proxy, upstream), listeners)


async def _serve(
    proxy: ForwardProxy, upstream: httpx.AsyncClient, stream: trio.SocketStream
) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            request = await _read_request(conn, stream)
            if request is None:
                return
            await _relay(proxy, upstream, conn, stream, request)
            if conn.our_state is not h11.DONE:
                return
            conn.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> h11.Request | None:
    request: h11.Request | None = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def _relay(
    proxy: ForwardProxy,
    upstream: httpx.AsyncClient,
    conn: h11.Connection,
    stream: trio.SocketStream,
    request: h11.Request,
) -> None:
    target = request.target.decode("latin-1")
    if not target.startswith("http://"):
        proxy.refused += 1
        data = conn.send(h11.Response(status_code=400, headers=[(b"content-length", b"0")]))
        await stream.send_all(data + conn.send(h11.EndOfMessage()))
        return
    headers = tuple((k.decode().lower(), v.decode("latin-1")) for k, v in request.headers)
    proxy.relayed.append(Relayed(request.method.decode(), target, headers))
    forwarded = [(k, v) for k, v in headers if k.encode() not in _HOP_BY_HOP and k != "host"]
    outgoing = upstream.build_request(request.method.decode(), target, headers=forwarded)
    response = await upstream.send(outgoing, stream=True)
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    reply = [
        (k, v)
        for k, v in response.headers.raw
        if k.lower() not in _HOP_BY_HOP and k.lower() != b"content-length"
    ]
    reply.append((b"content-length", b"%d" % len(body)))
    data = conn.send(h11.Response(status_code=response.status_code, headers=reply))
    if body:
        data += conn.send(h11.Data(data=body))
    await stream.send_all(data + conn.send(h11.EndOfMessage()))
