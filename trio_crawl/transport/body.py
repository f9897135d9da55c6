"""A response body streamed off its connection, which returns to the pool when it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

from .connection import Connection
from .pool import ConnectionPool
from .wire import receive


class ResponseStream(httpx.AsyncByteStream):
    """Yields body chunks as they are read; the response holds its connection until then.

    Read to the end, the connection is released to the pool (kept if both sides allow it).
    Closed before that (``aclose``, an error, a cancellation, or the iterator dropped), it is
    closed, since the rest of the body would still be in it, unless the whole response had
    already been received (a small page read with its head, a HEAD, a 204/304): then nothing
    is left in the connection and it is released as if read, so a caller that looks at the
    status and drops the body (a redirect, a 404) keeps the connection warm. Either way the
    connection is given back exactly once.
    """

    __slots__ = ("_chunks", "_conn", "_enclosing", "_keep", "_pool", "_read_timeout", "raw_headers")

    def __init__(
        self,
        chunks: list[bytes],
        conn: Connection,
        pool: ConnectionPool,
        keep: bool,
        read_timeout: float | None,
        enclosing: float | None = None,
        raw_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self._chunks = chunks
        self._conn: Connection | None = conn
        self._pool = pool
        self._keep = keep  # the request allows reuse (it did not say Connection: close)
        self._read_timeout = read_timeout
        self._enclosing = enclosing  # see wire.receive
        self.raw_headers: list[tuple[bytes, bytes]] = [] if raw_headers is None else raw_headers
        """The response's header lines as the parser read them, the list its `httpx.Headers`
        was built from: a reader that wants them all takes them here, where
        ``Headers.raw`` would copy them out again on every call."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while (chunks := await self._more()) is not None:
                for chunk in chunks:
                    yield chunk
        except BaseException:
            self.give_back()
            raise
        self.give_back()

    async def read_into(self, feed: Callable[[bytes], object]) -> None:
        """Hand every chunk of the body to `feed`, as iterating would, without an async
        generator (trio registers and finalises each one, a cost that showed in a crawl's
        profile once httpx's ``aiter_raw`` wrapped this one's). `feed` raising stops the read."""
        try:
            while (chunks := await self._more()) is not None:
                for chunk in chunks:
                    feed(chunk)
        except BaseException:
            self.give_back()
            raise
        self.give_back()

    async def _more(self) -> list[bytes] | None:
        """The next chunks of the body (those read with the head first); None at its end."""
        conn = self._conn
        if conn is None:
            return None
        chunks = self._chunks
        if chunks:
            self._chunks = []
            return chunks
        parser = conn.parser
        while not parser.complete:
            data = await receive(conn.stream, self._read_timeout, self._enclosing)
            if data:
                parser.feed(data)
            else:
                parser.feed_eof()
            chunks = parser.body
            if chunks:
                parser.body = []
                return chunks
        return None

    def give_back(self) -> None:
        """Release the connection if its response is all in, else close it; idempotent."""
        conn = self._conn
        if conn is not None:
            self._conn = None
            parser = conn.parser
            if parser.complete:
                self._pool.release(conn, parser.keep_alive and self._keep)
            else:
                self._pool.discard(conn)

    async def aclose(self) -> None:
        self.give_back()
