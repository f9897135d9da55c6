"""`TrioTransport`: HTTP/1.1 for httpx straight on trio sockets, with a fast response parser.

Why: a crawl spent far more CPU per page than aiohttp, most of it in httpcore's pool and h11. This
transport keeps the per-request path short: one request head built with a single join (its
header block checked once per set of headers), one send for a bodyless request and reads of
``READ_SIZE`` straight through trio's socket on plain TCP (`wire`), a C parser (httptools)
fed whole reads, and a pool that is a dict of lists plus one parking lot.

httptools (llhttp, in C) parses a response an order of magnitude cheaper than h11, so it is
the default ``parser``; h11 (pure Python) is kept for comparison and as a fallback where llhttp
is stricter than a server. ``benchmarks/parsers.py`` measures the parsers,
``benchmarks/transport.py`` the client CPU per request against httpx's own transport; the
figures are in ``benchmarks/results/code_figures.md``.

A request's life, and what each step can raise (all httpx exceptions, so the crawler's
`classify_exception` sorts them as it does httpcore's)::

    not http/https, or no host                       UnsupportedProtocol
    the ``trace`` extension                          NotImplementedError
    a head h11 would not send (request_head): a      LocalProtocolError
      method or header name that is not a token, a
      target with spaces, NUL/CR/LF or edge spaces
      in a value, a bad Content-Length, a
      Transfer-Encoding other than chunked
    1. ConnectionPool.checkout: an idle connection of the origin (newest first) or a slot
       no slot within the pool timeout              PoolTimeout
    2. a new connection: TCP, then TLS for https (wire.connect)
       refused, unresolvable, bad certificate        ConnectError
       the connect timeout                           ConnectTimeout
    3. the head, then the body (chunked when httpx asked), written (wire.send)
       a body longer or shorter than its             LocalProtocolError (before the write
         Content-Length                                that would carry the difference)
       reset, broken pipe                            WriteError
       the write timeout, per write                  WriteTimeout
    4. the response head read (wire.receive, parsers)
       reset                                         ReadError
       the read timeout, per read                    ReadTimeout
       malformed, a head over 100 KiB, EOF first,    RemoteProtocolError
         framing h11 refuses (a Transfer-Encoding
         other than chunked, conflicting lengths)
    5. the body streamed by ResponseStream; read to its end, the connection is released
       EOF inside a framed body                      RemoteProtocolError
       reset / the read timeout                      ReadError / ReadTimeout

Both parsers read a response as h11 does (httptools hands h11 any head whose framing is not
plain, see `httptools_parser`): OWS is stripped from header values, and bytes after a complete
response are never read as a response (the connection is closed instead of reused).

A write error is not final: a server that answers early and stops reading (a 413 for a
large upload) has its answer returned, and the connection closed after it.

A reused connection the server had already closed (EOF or reset before any byte of the
response, at step 3 or 4) is a *stale* keep-alive connection: an idempotent request (GET,
HEAD, OPTIONS, PUT, DELETE, TRACE) with no body or a body of bytes, which can be sent again,
is then retried once, on a new connection. Anything else raises; so that a POST does not
fail for a connection the server closed while it sat idle, a request that cannot be retried
first polls its idle connection and takes another if the server's FIN or reset is already
there (one ``poll`` call, which the crawler's GETs never pay).

Not supported, unlike httpx's default transport: HTTP/2 (``http2=True`` on a client given this
transport has no effect: the connection speaks HTTP/1.1, and an https server that picks h2 by
ALPN is refused with ConnectError); the ``trace`` request extension (refused with
NotImplementedError rather than ignored); the ``network_stream`` response extension (absent, so
a 101 upgrade or CONNECT tunnel cannot be taken over). A response's extensions are
``http_version`` and ``reason_phrase``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from .body import ResponseStream
from .connection import Connection, Origin
from .parsers import ParserName, make_parser
from .pool import ConnectionPool
from .request_head import KnownFields, RequestHead, request_head
from .wire import READ_SIZE, connect, receive, send

DEADLINE_EXTENSION = "trio_crawl.deadline"
"""A request extension: the `trio.current_time()` deadline of a cancel scope that encloses the
whole exchange, the body read to its end included. Given, the per-operation timeouts need no
scope of their own while it comes first, and trio is not asked (see `wire`). The crawler's
fetcher sets it; httpx's clients never do."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods a stale connection may be retried for (RFC 9110 §9.2.2)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_TIMEOUTS: Mapping[str, float | None] = {}


class _StaleConnection(Exception):
    """A reused connection failed before any response byte: the retry may go ahead."""


class TrioTransport(httpx.AsyncBaseTransport):
    """An httpx transport speaking HTTP/1.1 over trio; see the module docstring.

    `max_connections` bounds open connections across all origins; at most
    `max_keepalive_connections` (default: `max_connections`) are kept idle, each for at most
    `keepalive_expiry` seconds. `ssl_context` serves every https connection (default: a
    verifying ``ssl.create_default_context()``, built on first use). `parser` picks the
    response parser.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        parser: ParserName = "httptools",
    ) -> None:
        make_parser(parser)  # refuses an unknown name now rather than on first connect
        self._parser: ParserName = parser
        self._pool = ConnectionPool(max_connections, max_keepalive_connections, keepalive_expiry)
        self._tls = ssl_context
        self._known_fields: KnownFields = {}  # header blocks request_head has checked

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (its counts are what tests and dashboards look at)."""
        return self._pool

    async def aclose(self) -> None:
        """Close every connection; later requests raise RuntimeError."""
        self._pool.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme == "https":
            tls = self._tls
            if tls is None:
                tls = self._tls = ssl.create_default_context()
        elif scheme == "http":
            tls = None
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        host = url.raw_host.decode("ascii")
        if not host:
            raise httpx.UnsupportedProtocol(f"request URL has no host: {url}")
        port = url.port or _DEFAULT_PORTS[scheme]
        origin = (scheme, host, port)
        extensions = request.extensions
        if "trace" in extensions:
            raise NotImplementedError("TrioTransport does not call the 'trace' extension")
        timeouts: Mapping[str, Any] = extensions.get("timeout") or _NO_TIMEOUTS
        head = request_head(request, self._known_fields)
        retryable = request.method in IDEMPOTENT_METHODS and (
            not head.has_body or isinstance(request.stream, httpx.ByteStream)
        )
        pool = self._pool
        # A request that could not be retried first checks that an idle connection is alive.
        conn = await pool.checkout(origin, timeouts.get("pool"), probe=not retryable)
        if conn is not None:
            try:
                return await self._exchange(conn, request, head, timeouts, retryable)
            except _StaleConnection:
                conn = await pool.checkout(origin, timeouts.get("pool"), fresh=True)
        if conn is None:
            conn = await self._open(origin, host, port, tls, timeouts.get("connect"))
        return await self._exchange(conn, request, head, timeouts, False)

    async def _open(
        self,
        origin: Origin,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        limit: float | None,
    ) -> Connection:
        """Turn a pool slot into a connection (or give the slot back)."""
        try:
            stream = await connect(host, port, tls, limit)
        except BaseException:
            self._pool.give_back_slot()
            raise
        conn = Connection(origin, stream, make_parser(self._parser))
        self._pool.opened(conn)
        return conn

    async def _exchange(
        self,
        conn: Connection,
        request: httpx.Request,
        head: RequestHead,
        timeouts: Mapping[str, Any],
        retryable: bool,
    ) -> httpx.Response:
        """Send `request` on `conn` and read the response head; the body is left streaming."""
        pool = self._pool
        stream = conn.stream
        parser = conn.parser
        read_timeout = timeouts.get("read")
        enclosing = request.extensions.get(DEADLINE_EXTENSION)
        answered = False
        unsent: httpx.WriteError | None = None
        try:
            try:
                if head.has_body:
                    await self._send_with_body(
                        conn, request, head, timeouts.get("write"), enclosing
                    )
                else:
                    await send(stream, head.data, timeouts.get("write"), enclosing)
            except httpx.WriteError as exc:
                # The server may have answered and stopped reading (a 413 for a large
                # upload, say): its answer is worth more than the write error.
                unsent = exc
            parser.start(request.method.encode("ascii"))
            while not parser.head_done:
                try:
                    data = await receive(stream, read_timeout, enclosing)
                except httpx.ReadError:
                    if unsent is not None:
                        raise unsent from None
                    raise
                if not data:
                    if unsent is not None:
                        raise unsent
                    parser.feed_eof()  # raises: the head is incomplete
                answered = True
                parser.feed(data)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            pool.discard(conn)
            if retryable and conn.reused and not answered:
                raise _StaleConnection from exc
            raise
        except BaseException:
            pool.discard(conn)
            raise
        chunks = parser.body
        parser.body = []
        keep = not head.close and unsent is None
        headers = parser.headers
        body = ResponseStream(chunks, conn, pool, keep, read_timeout, enclosing, headers)
        try:
            return httpx.Response(
                parser.status,
                headers=headers,
                stream=body,
                extensions={"http_version": parser.version, "reason_phrase": parser.reason},
            )
        except BaseException:
            body.give_back()
            raise

    async def _send_with_body(
        self,
        conn: Connection,
        request: httpx.Request,
        head: RequestHead,
        limit: float | None,
        enclosing: float | None,
    ) -> None:
        """Write the head and the body, coalescing small pieces into one write."""
        body = request.stream
        if not isinstance(body, httpx.AsyncByteStream):
            raise TypeError("TrioTransport needs an async request body (httpx.AsyncClient)")
        stream = conn.stream
        pending = head.data
        # Bytes past the announced length would reach the server as the start of another
        # request; too few would leave it waiting for the rest. Either is refused before the
        # write that would carry it (so a body within one write sends nothing), as h11 does.
        left = head.content_length
        async for chunk in body:
            if not chunk:
                continue  # an empty chunk would end a chunked body
            if head.chunked:
                chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
            elif left is not None:
                left -= len(chunk)
                if left < 0:
                    raise httpx.LocalProtocolError("request body longer than its Content-Length")
            if len(pending) + len(chunk) <= READ_SIZE:
                pending += chunk
            else:
                await send(stream, pending, limit, enclosing)
                pending = chunk
        if head.chunked:
            pending += b"0\r\n\r\n"
        elif left:
            raise httpx.LocalProtocolError("request body shorter than its Content-Length")
        await send(stream, pending, limit, enclosing)
