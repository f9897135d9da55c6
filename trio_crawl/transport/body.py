"""A response body streamed off its connection, which returns to the pool when it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from .connection import Connection
from .pool import ConnectionPool
from .wire import receive


class ResponseStream(httpx.AsyncByteStream):
    """Yields body chunks as they are read.

    Read to the end, the connection is released to the pool (kept if both sides allow it);
    closed before that (``aclose``, an error, a cancellation, or the iterator dropped), the
    connection is closed, since the rest of the body would still be in it. Either way it is
    given back exactly once. A body that was complete when the head was parsed (small pages,
    HEAD, 204/304) carries no connection at all: it was released already.
    """

    __slots__ = ("_chunks", "_conn", "_keep", "_pool", "_read_timeout")

    def __init__(
        self,
        chunks: list[bytes],
        conn: Connection | None,
        pool: ConnectionPool,
        keep: bool,
        read_timeout: float | None,
    ) -> None:
        self._chunks = chunks
        self._conn = conn
        self._pool = pool
        self._keep = keep  # the request allows reuse (it did not say Connection: close)
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks, self._chunks = self._chunks, []
        conn = self._conn
        if conn is None:
            for chunk in chunks:
                yield chunk
            return
        parser = conn.parser
        stream = conn.stream
        try:
            for chunk in chunks:
                yield chunk
            while self._conn is not None:
                data = await receive(stream, self._read_timeout)
                if data:
                    parser.feed(data)
                else:
                    parser.feed_eof()
                chunks = parser.body
                if chunks:
                    parser.body = []
                if parser.complete:
                    self._conn = None
                    self._pool.release(conn, parser.keep_alive and self._keep)
                for chunk in chunks:
                    yield chunk
        except BaseException:
            self.aclose_now()
            raise

    def aclose_now(self) -> None:
        """Close the connection if the body was not read to its end."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            self._pool.discard(conn)

    async def aclose(self) -> None:
        self.aclose_now()
