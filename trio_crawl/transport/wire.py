"""The three socket operations a request needs, each with its timeout and its httpx error.

This is the one place where trio's exceptions become httpx's::

    connect (TCP, then TLS)   OSError, a failed handshake         httpx.ConnectError
                              the connect timeout                 httpx.ConnectTimeout
    send_all                  reset, broken pipe, closed          httpx.WriteError
                              the write timeout                   httpx.WriteTimeout
    receive_some              reset, closed                       httpx.ReadError
                              the read timeout                    httpx.ReadTimeout

Each takes its timeout as `limit` (seconds; None is no limit) and runs under a bare
`trio.CancelScope` with that deadline: when the scope swallows its own cancellation, the
operation timed out. (``trio.fail_after`` would cost a generator-based context manager per
read.) Any other cancellation passes through untouched.

The scope is left out when a deadline already in force comes no later (the crawler's
request deadline, say): that one would fire first, so the operation's own timeout could never
be the one that ends it. Scopes are not free to enter and leave, and a request has several. Which
deadline is in force is trio's `current_effective_deadline`, a walk up every enclosing cancel
scope (a crawl has many), unless the caller says it (`enclosing`: the deadline of a
scope it promises encloses the operation, `transport.DEADLINE_EXTENSION`).

On a plain TCP connection the bytes go straight through trio's socket (`_send_all`,
`_receive_some`), as `trio.SocketStream` would send them but without its per-call layers (a
concurrent-use detector, a generator-based context manager translating errors, a memoryview):
a connection is used by one request at a time (the pool hands it out), and the errors are
translated here anyway. A TLS stream goes through `trio.SSLStream` as it must.
"""

from __future__ import annotations

import errno
import math
import ssl

import httpx
import trio

READ_SIZE = 65536
"""Bytes asked of each `receive_some`."""

Stream = trio.SocketStream | trio.SSLStream[trio.SocketStream]

# What a socket closed under a call raises (Unix, Windows): trio's stream says it in words.
_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})


def _reason(exc: BaseException) -> str:
    """The OS or TLS error underneath a trio error, which says more than trio's wrapper."""
    if isinstance(exc, OSError) and exc.errno in _CLOSED_ERRNOS:
        return "this socket was already closed"
    cause = exc.__cause__
    return str(cause or exc) or type(cause or exc).__name__


async def connect(
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    limit: float | None,
) -> Stream:
    """A TCP connection to `host`:`port`, wrapped in TLS (verifying `host`) when `tls` is set."""
    try:
        with _scope(limit):
            return await _connect(host, port, tls)
    except (OSError, trio.BrokenResourceError, ssl.SSLError) as exc:
        raise httpx.ConnectError(f"cannot connect to {host}:{port}: {_reason(exc)}") from exc
    raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out")


async def _connect(host: str, port: int, tls: ssl.SSLContext | None) -> Stream:
    tcp = await trio.open_tcp_stream(host, port)
    if tls is None:
        return tcp
    try:
        stream = trio.SSLStream(tcp, tls, server_hostname=host, https_compatible=True)
        await stream.do_handshake()
    except BaseException:
        tcp.socket.close()
        raise
    if stream.selected_alpn_protocol() not in (None, "http/1.1"):
        tcp.socket.close()
        raise httpx.ConnectError(
            f"server chose {stream.selected_alpn_protocol()!r}; only HTTP/1.1 is spoken"
        )
    return stream


async def send(
    stream: Stream, data: bytes, limit: float | None, enclosing: float | None = None
) -> None:
    """Write all of `data`."""
    try:
        deadline = _own_deadline(limit, enclosing)
        if deadline is None:
            await _send_all(stream, data)
            return
        with trio.CancelScope(deadline=deadline):
            await _send_all(stream, data)
            return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        raise httpx.WriteError(f"cannot write the request: {_reason(exc)}") from exc
    raise httpx.WriteTimeout("timed out writing the request")


async def receive(
    stream: Stream, limit: float | None, enclosing: float | None = None
) -> bytes | bytearray:
    """The next bytes from the server; b"" once it has closed."""
    try:
        deadline = _own_deadline(limit, enclosing)
        if deadline is None:
            return await _receive_some(stream)
        with trio.CancelScope(deadline=deadline):
            return await _receive_some(stream)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        raise httpx.ReadError(f"cannot read the response: {_reason(exc)}") from exc
    raise httpx.ReadTimeout("timed out reading the response")


async def _send_all(stream: Stream, data: bytes) -> None:
    """`send_all`, on a plain TCP socket straight through trio's socket (see the module)."""
    if type(stream) is not trio.SocketStream or not data:
        await stream.send_all(data)
        return
    sock = stream.socket
    sent = await sock.send(data)
    if sent < len(data):  # the kernel's buffer was full: the rest, piece by piece
        with memoryview(data) as view:
            while sent < len(view):
                with view[sent:] as remaining:
                    sent += await sock.send(remaining)


async def _receive_some(stream: Stream) -> bytes | bytearray:
    """`receive_some(READ_SIZE)`, on a plain TCP socket straight through trio's socket."""
    if type(stream) is not trio.SocketStream:
        return await stream.receive_some(READ_SIZE)
    return await stream.socket.recv(READ_SIZE)


def _own_deadline(limit: float | None, enclosing: float | None) -> float | None:
    """When an operation of at most `limit` seconds must give up, or None when it needs no
    scope of its own (no limit, or an enclosing deadline that comes first anyway: `enclosing`
    if the caller knows it, else the one trio has in force)."""
    if limit is None:
        return None
    deadline = trio.current_time() + limit
    if enclosing is None:
        enclosing = trio.current_effective_deadline()
    if enclosing <= deadline:
        return None
    return deadline


def _scope(limit: float | None) -> trio.CancelScope:
    return trio.CancelScope(deadline=trio.current_time() + limit if limit is not None else math.inf)
