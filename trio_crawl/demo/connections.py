"""How the demo server answers: its HTTP/1.1 connections (h11 on trio), routes and faults, and
`DemoServer`, the running server's state that `serve_demo` hands back.

One task per connection, many requests per connection (keep-alive). Routes:
``/csa-iot_products/`` and ``/csa-iot_products/page/N/`` (any query string; past the last page
they show page 1, like the live site), ``/csa_product/{slug}/``, ``/`` and ``/robots.txt`` (its
text is `serve_demo`'s ``robots_txt``; None answers 404); anything else is a 404 page. GET and
HEAD only (405 otherwise). Faults (see `faults`) are injected into list and detail pages only.

Beside the Matter catalogue, the same server serves the bookshop (`bookshop`) under ``/books/``
(routes in `bookshop_urls`): every response there, 404s and injected error pages included, says
``charset=iso-8859-1``. Faults apply to its list and detail pages as to Matter's; the per-URL cap
counts a list page by its canonical ``/books/?page=N`` (the path alone is the same for every
page) and a detail page by its canonical ``/books/item/SLUG/``. A bookshop 404 is never faulted.
Clients that vanish or send garbage end their own connection quietly; the server never prints a
traceback for them.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import socket
import struct
from collections import Counter
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Final

import attrs
import h11
import trio

from . import bookshop_markup
from .bookshop import DemoBookshop
from .bookshop_markup import BookshopRenderer
from .bookshop_urls import BOOKS_PATH, BookRequest, book_list_url, book_url, route_books
from .catalogue import DemoCatalogue
from .faults import FaultKind, FaultPlan
from .markup import (
    CONTENT_TYPE,
    DETAIL_PATH,
    LIST_PATH,
    ROBOTS_TXT,
    detail_url,
    list_url,
    render_error,
)
from .renderer import Renderer

logger = logging.getLogger(__name__)

_RECEIVE_SIZE: Final = 64 * 1024
_MAX_HEADER_BYTES: Final = 16 * 1024
_Header = tuple[bytes, bytes]
_HTML: Final[_Header] = (b"content-type", CONTENT_TYPE.encode())
_BOOK_HTML: Final[_Header] = (b"content-type", bookshop_markup.CONTENT_TYPE.encode())
_TEXT: Final[_Header] = (b"content-type", b"text/plain; charset=utf-8")
_SERVER: Final[_Header] = (b"server", b"trio-crawl-demo")
_CLOSE: Final[_Header] = (b"connection", b"close")
_LIST_PAGE_PREFIX: Final = f"{LIST_PATH}page/".encode()
_LIST_ROOT: Final = LIST_PATH.encode()
_DETAIL_PREFIX: Final = DETAIL_PATH.encode()
_BOOKS_PREFIX: Final = BOOKS_PATH[:-1].encode()


@attrs.define
class DemoStats:
    """What the server has seen. Mutable counters, read by tests and benchmarks.

    `list_pages` / `details` count Matter's list and detail requests, `book_lists` /
    `book_details` the bookshop's (each including those answered 404: a page past the end, an
    unknown slug). `requests`, `other`, `not_found` and `faults` count both sites.
    """

    requests: int = 0
    list_pages: int = 0
    details: int = 0
    book_lists: int = 0
    book_details: int = 0
    other: int = 0
    not_found: int = 0
    bad_requests: int = 0
    connections: int = 0
    internal_errors: int = 0
    #: Requests being answered now, and the most there ever were at once (the server's view of
    #: a crawl's concurrency, whatever the crawl's processes think they hold).
    in_flight: int = 0
    peak_in_flight: int = 0
    #: Faults injected, by `FaultKind` (a `str`: ``faults["429"]``, ``faults["reset"]``, …).
    faults: Counter[str] = attrs.field(factory=Counter)


@attrs.define
class DemoServer:
    """A running demo server, as `serve_demo` hands it to `nursery.start`."""

    host: str
    port: int
    catalogue: DemoCatalogue
    stats: DemoStats
    fault_plan: FaultPlan
    renderer: Renderer
    bookshop: DemoBookshop
    book_renderer: BookshopRenderer
    robots_txt: bytes | None = ROBOTS_TXT
    """What ``/robots.txt`` serves (None: a 404)."""
    latency_secs: float = 0.0
    """How long every response waits before it is answered, on trio's clock: a slow site, whose
    latency rather than the crawler's CPU bounds a crawl."""
    on_request: Callable[[str], None] | None = None
    """Called with each request's path before it is answered: a test's hook to change the
    catalogue while a crawl reads it (say, delist a product at the 40th detail request)."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return base_url_of(self.host, self.port)

    def list_url(self, page: int) -> str:
        return list_url(self.base_url, page)

    def detail_url(self, slug: str) -> str:
        return detail_url(self.base_url, slug)

    @property
    def bookshop_url(self) -> str:
        """``http://127.0.0.1:PORT/books/``: the bookshop's page 1."""
        return self.base_url + BOOKS_PATH

    def book_list_url(self, page: int) -> str:
        return book_list_url(self.base_url, page)

    def book_url(self, slug: str) -> str:
        return book_url(self.base_url, slug)


def base_url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Connections:
    """Serves HTTP/1.1 connections for one `DemoServer`."""

    def __init__(self, server: DemoServer) -> None:
        self.server = server
        self.stats = server.stats
        self.renderer = server.renderer
        self.books = server.book_renderer
        self.plan = server.fault_plan
        self.config = server.fault_plan.config
        self._errors = {
            status: render_error(status, HTTPStatus(status).phrase).encode()
            for status in (400, 405, 429, 500, 502, 503)
        }
        self._retry_after: _Header = (b"retry-after", str(self.config.retry_after_secs).encode())

    async def handle(self, stream: trio.SocketStream) -> None:
        """Serve one connection until the client closes it (or something breaks it)."""
        self.stats.connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADER_BYTES)
        try:
            await self._serve(conn, stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client went away (or was reset by a fault)
        except h11.RemoteProtocolError:
            self.stats.bad_requests += 1
            await self._answer_bad_request(conn, stream)
        except Exception:
            self.stats.internal_errors += 1
            logger.exception("demo server: internal error while serving a connection")
        finally:
            await trio.aclose_forcefully(stream)

    async def _answer_bad_request(self, conn: h11.Connection, stream: trio.SocketStream) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        with contextlib.suppress(
            trio.BrokenResourceError, trio.ClosedResourceError, OSError, h11.ProtocolError
        ):
            await self._send(conn, stream, 400, self._errors[400], extra=(_CLOSE,))

    async def _serve(self, conn: h11.Connection, stream: trio.SocketStream) -> None:
        while True:
            request = await self._read_request(conn, stream)
            if request is None:
                return
            stats = self.stats
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            try:
                if self.server.latency_secs > 0:
                    await trio.sleep(self.server.latency_secs)
                keep_open = await self._respond(conn, stream, request)
            finally:
                stats.in_flight -= 1
            if not keep_open or conn.our_state is not h11.DONE:
                return
            conn.start_next_cycle()

    @staticmethod
    async def _read_request(conn: h11.Connection, stream: trio.SocketStream) -> h11.Request | None:
        """The next complete request (its body read and dropped), or None at a clean close."""
        request: h11.Request | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(_RECEIVE_SIZE))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.EndOfMessage):
                return request
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None

    async def _send(
        self,
        conn: h11.Connection,
        stream: trio.SocketStream,
        status: int,
        body: bytes,
        *,
        head: bool = False,
        content_type: _Header = _HTML,
        extra: Sequence[_Header] = (),
    ) -> None:
        headers = [content_type, (b"content-length", b"%d" % len(body)), _SERVER, *extra]
        data = conn.send(h11.Response(status_code=status, headers=headers))
        if body and not head:
            data += conn.send(h11.Data(data=body))
        data += conn.send(h11.EndOfMessage())
        await stream.send_all(data)

    async def _respond(
        self, conn: h11.Connection, stream: trio.SocketStream, request: h11.Request
    ) -> bool:
        """Answer one request; False if the connection must close afterwards."""
        stats = self.stats
        stats.requests += 1
        head = request.method == b"HEAD"
        if request.method != b"GET" and not head:
            stats.other += 1
            await self._send(
                conn, stream, 405, self._errors[405], extra=((b"allow", b"GET, HEAD"),)
            )
            return True

        path, _, query = request.target.partition(b"?")
        if self.server.on_request is not None:
            self.server.on_request(path.decode("latin-1"))
        if path.startswith(_BOOKS_PREFIX):
            route = route_books(path.decode("latin-1"), query.decode("latin-1"))
            if route is not None:
                return await self._respond_books(conn, stream, route, head)
        page = _list_page_number(path)
        slug = None if page is not None else _detail_slug(path)
        if page is not None:
            stats.list_pages += 1
            body = self.renderer.list_page(page)
        elif slug is not None:
            stats.details += 1
            found = self.renderer.detail_page(slug)
            if found is None:
                stats.not_found += 1
                await self._send(conn, stream, 404, self.renderer.not_found(), head=head)
                return True
            body = found
        else:
            return await self._respond_other(conn, stream, path, head)

        fault = self.plan.decide(path.decode("latin-1"))
        if fault is None:
            await self._send(conn, stream, 200, body, head=head)
            return True
        if page is not None:
            broken = functools.partial(self.renderer.malformed_list_page, page)
        else:
            assert slug is not None
            broken = functools.partial(self._malformed_detail_page, slug)
        return await self._inject(conn, stream, fault, head, body, broken)

    def _malformed_detail_page(self, slug: str) -> bytes:
        return self.renderer.malformed_detail_page(slug) or b""

    async def _respond_books(
        self, conn: h11.Connection, stream: trio.SocketStream, route: BookRequest, head: bool
    ) -> bool:
        """Answer a request for a bookshop page (`route`), in ISO-8859-1."""
        stats, books = self.stats, self.books
        body: bytes | None = None
        if route.kind == "list":
            stats.book_lists += 1
            page = route.page or 0
            body = books.list_page(page)
            fault_key = book_list_url("", page)
            broken = functools.partial(books.malformed_list_page, page)
        elif route.kind == "detail":
            assert route.slug is not None
            stats.book_details += 1
            body = books.detail_page(route.slug)
            fault_key = book_url("", route.slug)
            broken = functools.partial(books.malformed_detail_page, route.slug)
        else:
            stats.other += 1
            body = books.about() if route.kind == "about" else None
            if body is not None:
                await self._send(conn, stream, 200, body, head=head, content_type=_BOOK_HTML)
                return True
        if body is None:
            stats.not_found += 1
            await self._send(
                conn, stream, 404, books.not_found(), head=head, content_type=_BOOK_HTML
            )
            return True
        fault = self.plan.decide(fault_key)
        if fault is None:
            await self._send(conn, stream, 200, body, head=head, content_type=_BOOK_HTML)
            return True
        return await self._inject(conn, stream, fault, head, body, broken, _BOOK_HTML)

    async def _respond_other(
        self, conn: h11.Connection, stream: trio.SocketStream, path: bytes, head: bool
    ) -> bool:
        self.stats.other += 1
        if path == b"/":
            await self._send(conn, stream, 200, self.renderer.home(), head=head)
        elif path == b"/robots.txt" and self.server.robots_txt is not None:
            robots = self.server.robots_txt
            await self._send(conn, stream, 200, robots, head=head, content_type=_TEXT)
        else:
            self.stats.not_found += 1
            await self._send(conn, stream, 404, self.renderer.not_found(), head=head)
        return True

    async def _inject(
        self,
        conn: h11.Connection,
        stream: trio.SocketStream,
        fault: FaultKind,
        head: bool,
        body: bytes,
        broken: Callable[[], bytes],
        content_type: _Header = _HTML,
    ) -> bool:
        """Serve `fault` instead of `body`; `broken` makes the page a malformed fault sends."""
        if fault is FaultKind.slow:
            await trio.sleep(self.config.slow_secs)
            await self._send(conn, stream, 200, body, head=head, content_type=content_type)
            return True
        if fault is FaultKind.reset:
            # SO_LINGER 0 turns the close into a TCP reset.
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if fault is FaultKind.truncated:
            headers = [content_type, (b"content-length", b"%d" % len(body)), _SERVER]
            data = conn.send(h11.Response(status_code=200, headers=headers))
            if not head:
                data += conn.send(h11.Data(data=body[: len(body) // 2]))
            await stream.send_all(data)
            return False
        if fault is FaultKind.malformed:
            await self._send(conn, stream, 200, broken(), head=head, content_type=content_type)
            return True
        status = int(fault.value)
        extra = (self._retry_after,) if fault is FaultKind.rate_limited else ()
        error = self._errors[status]
        await self._send(
            conn, stream, status, error, head=head, content_type=content_type, extra=extra
        )
        return True


def _list_page_number(path: bytes) -> int | None:
    """The list page a path asks for (1 for the catalogue root), or None if not a list URL."""
    if path == _LIST_ROOT or path == _LIST_ROOT[:-1]:
        return 1
    if not path.startswith(_LIST_PAGE_PREFIX):
        return None
    number = path[len(_LIST_PAGE_PREFIX) :].removesuffix(b"/")
    if not number.isdigit() or len(number) > 9 or number.startswith(b"0"):
        return None
    return int(number)


def _detail_slug(path: bytes) -> str | None:
    """The slug a detail path names, or None if it is not a detail URL."""
    if not path.startswith(_DETAIL_PREFIX):
        return None
    slug = path[len(_DETAIL_PREFIX) :].removesuffix(b"/")
    if not slug or b"/" in slug or not slug.isascii():
        return None
    return slug.decode("ascii")


