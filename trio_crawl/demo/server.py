"""The demo catalogue served over real HTTP/1.1 (h11 on trio), on loopback only.

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_demo, DemoCatalogue(products=500))
        ...  # fetch server.base_url + "/csa-iot_products/"
        nursery.cancel_scope.cancel()

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

Command line: ``python -m trio_crawl.demo.server --port 8000 --products 4000 [--books 47]
[--faults low]``. ``--seed`` seeds the Matter catalogue only; the bookshop keeps its default seed,
so ``--books N`` serves exactly ``DemoBookshop(N)``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import ipaddress
import logging
import signal
import socket
import struct
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Final, NoReturn

import attrs
import h11
import trio

from . import bookshop_markup
from .bookshop import DemoBookshop
from .bookshop_markup import BookshopRenderer
from .bookshop_urls import BOOKS_PATH, BookRequest, book_list_url, book_url, route_books
from .catalogue import DemoCatalogue, add_change_option, apply_changes
from .faults import FaultConfig, FaultKind, FaultPlan
from .markup import (
    CONTENT_TYPE,
    DETAIL_PATH,
    LIST_PATH,
    ROBOTS_TXT,
    Markup,
    Renderer,
    detail_url,
    list_url,
    render_error,
)

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
    on_request: Callable[[str], None] | None = None
    """Called with each request's path before it is answered: a test's hook to change the
    catalogue while a crawl reads it (say, delist a product at the 40th detail request)."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return _base_url(self.host, self.port)

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


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the demo server binds loopback addresses only, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the demo server binds loopback addresses only, got {host!r}")
    return host


class _Connections:
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
            keep_open = await self._respond(conn, stream, request)
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


async def serve_demo(
    catalogue: DemoCatalogue,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 - frozen, so sharing the default is safe
    robots_txt: bytes | None = ROBOTS_TXT,
    markup: Markup = Markup.nested,
    bookshop: DemoBookshop | None = None,
    task_status: trio.TaskStatus[DemoServer] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve `catalogue` on a loopback address until cancelled.

    Use it with ``server = await nursery.start(serve_demo, catalogue)``: the listening socket
    is bound before `DemoServer` (with its `base_url`, `stats`, …) is handed back; port 0
    picks a free port. `robots_txt` is what ``/robots.txt`` serves (None: a 404), so tests
    can disallow pages; `markup` is how list pages lay out their cards (the live nesting by
    default). `bookshop` is served under ``/books/`` (None: a fresh ``DemoBookshop()``, 47
    books). Raises `ValueError` for a host that is not loopback.
    """
    host = _loopback(host)
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound_port = listeners[0].socket.getsockname()[1]
    stats = DemoStats()
    plan = FaultPlan(faults)
    stats.faults = plan.injected
    shop = DemoBookshop() if bookshop is None else bookshop
    server = DemoServer(
        host=host,
        port=bound_port,
        catalogue=catalogue,
        stats=stats,
        fault_plan=plan,
        renderer=Renderer(catalogue, _base_url(host, bound_port), markup=markup),
        bookshop=shop,
        book_renderer=BookshopRenderer(shop),
        robots_txt=robots_txt,
    )
    connections = _Connections(server)
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, connections.handle, listeners)
        task_status.started(server)
        await trio.sleep_forever()
    raise AssertionError("unreachable: the server only stops by cancellation")


async def run_demo_server(
    products: int,
    port: int,
    seed: int = 7,
    faults: FaultConfig = FaultConfig(),  # noqa: B008
    markup: Markup = Markup.nested,
    books: int = 47,
    changes: Sequence[str] = (),
) -> None:
    """Serve a fresh demo catalogue and bookshop until SIGINT or SIGTERM, announcing the base
    URL on the first stdout line and the bookshop on the second; a signal ends it quietly (trio
    would otherwise raise KeyboardInterrupt wrapped in an exception group out of the nursery).
    `changes` (`apply_changes`) change the catalogue first: started again on the same port with
    more changes, the server is the same catalogue, changed since the last crawl."""
    catalogue = apply_changes(DemoCatalogue(products=products, seed=seed), changes)
    shop = DemoBookshop(books)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            server: DemoServer = await nursery.start(
                functools.partial(
                    serve_demo, catalogue, port=port, faults=faults, markup=markup, bookshop=shop
                )
            )
            print(
                f"serving demo catalogue at {server.base_url} "
                f"({catalogue.total} products, {catalogue.last_page} pages)\n"
                f"serving demo bookshop at {server.bookshop_url} "
                f"({shop.total} books, {shop.last_page} pages)",
                flush=True,
            )
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trio_crawl.demo.server``: serve the demo catalogue until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m trio_crawl.demo.server",
        description="Serve the demo Matter catalogue and bookshop on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
    parser.add_argument("--products", type=int, default=4000, help="catalogue size")
    parser.add_argument("--seed", type=int, default=7, help="catalogue seed")
    parser.add_argument("--books", type=int, default=47, help="bookshop size (its seed is 0)")
    parser.add_argument(
        "--faults", choices=("none", "low"), default="none", help="fault injection preset"
    )
    parser.add_argument(
        "--markup",
        choices=[markup.value for markup in Markup],
        default=Markup.nested.value,
        help="how list pages lay out their cards (nested: the live site)",
    )
    add_change_option(parser)
    args = parser.parse_args(argv)
    faults = FaultConfig.low() if args.faults == "low" else FaultConfig()
    try:
        markup = Markup(args.markup)
        server = functools.partial(run_demo_server, changes=args.change)
        trio.run(server, args.products, args.port, args.seed, faults, markup, args.books)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
