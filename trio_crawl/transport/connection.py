"""One open HTTP/1.1 connection: its stream, its parser, and what the pool needs to know."""

from __future__ import annotations

import select

import trio

from .parsers import ResponseParser
from .wire import Stream

Origin = tuple[str, str, int]
"""(scheme, host, port): connections are shared only within one origin."""

_HAS_POLL = hasattr(select, "poll")


class Connection:
    """A connection and its bookkeeping; the pool decides its life, the transport uses it.

    Closing is synchronous (the socket is closed at once, without a TLS close_notify): the
    pool's counts then change in the same step as the close, so a cancellation can never
    leave a slot counted for a connection that is gone. HTTP/1.1 framing makes close_notify
    unnecessary for a client.
    """

    __slots__ = ("_socket", "idle_since", "origin", "parser", "reused", "stream")

    def __init__(self, origin: Origin, stream: Stream, parser: ResponseParser) -> None:
        self.origin = origin
        self.stream = stream
        self.parser = parser
        self.idle_since = 0.0
        self.reused = False
        """Whether the current request is not the connection's first (a stale retry may help)."""
        tcp = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
        self._socket = tcp.socket

    def readable(self) -> bool:
        """Whether the idle socket has something to read: the server's FIN or reset (or bytes
        it had no business sending). Either way the connection is unfit for a request. One
        ``poll`` system call, so it is asked only where a failure could not be retried."""
        if not _HAS_POLL:  # Windows; select's descriptor limit is no matter there
            return bool(select.select([self._socket], [], [], 0)[0])
        poller = select.poll()
        poller.register(self._socket.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        """Close the socket now; idempotent."""
        self._socket.close()
