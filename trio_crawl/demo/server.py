"""The demo catalogue served over real HTTP/1.1 on loopback only (`connections` answers).

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_demo, DemoCatalogue(products=500))
        ...  # fetch server.base_url + "/csa-iot_products/"
        nursery.cancel_scope.cancel()

Command line: ``python -m trio_crawl.demo.server --port 8000 --products 4000 [--books 47]
[--faults low]``. ``--seed`` seeds the Matter catalogue only; the bookshop keeps its default seed,
so ``--books N`` serves exactly ``DemoBookshop(N)``.
"""
from __future__ import annotations

import argparse
import functools
import ipaddress
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import trio

from .bookshop import DemoBookshop
from .bookshop_markup import BookshopRenderer
from .catalogue import DemoCatalogue, add_change_option, apply_changes
from .connections import Connections, DemoServer, DemoStats, base_url_of
from .faults import FaultConfig, FaultPlan
from .latency import add_latency_option
from .markup import (
    ROBOTS_TXT,
    Markup,
)
from .renderer import Renderer


def _loopback(host: str, private: bool = False) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the demo server binds loopback addresses only, got {host!r}") from None
    if not (address.is_loopback or (private and address.is_private)):
        raise ValueError(f"the demo server binds loopback addresses only, got {host!r}")
    return host


async def serve_demo(
    catalogue: DemoCatalogue,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 - frozen, so sharing the default is safe
    robots_txt: bytes | None = ROBOTS_TXT,
    markup: Markup = Markup.nested,
    bookshop: DemoBookshop | None = None,
    private_network: bool = False,
    latency_ms: float = 0,
    task_status: trio.TaskStatus[DemoServer] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve `catalogue` on a loopback address until cancelled.

    Use it with ``server = await nursery.start(serve_demo, catalogue)``: the listening socket
    is bound before `DemoServer` (with its `base_url`, `stats`, …) is handed back; port 0
    picks a free port. `robots_txt` is what ``/robots.txt`` serves (None: a 404), so tests
    can disallow pages; `markup` is how list pages lay out their cards (the live nesting by
    default). `bookshop` is served under ``/books/`` (None: a fresh ``DemoBookshop()``, 47
    books). `latency_ms` delays every response (on trio's clock), as a slow site would.
    Raises `ValueError` for a host that is not loopback; with `private_network`, a
    private address is accepted too (a network made on this machine, such as the bridge the
    tests of workers on separate hosts make, never a public one).
    """
    host = _loopback(host, private_network)
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
        renderer=Renderer(catalogue, base_url_of(host, bound_port), markup=markup),
        bookshop=shop,
        book_renderer=BookshopRenderer(shop),
        robots_txt=robots_txt,
        latency_secs=latency_ms / 1000,
    )
    connections = Connections(server)
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
    latency_ms: float = 0,
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
                    serve_demo,
                    catalogue,
                    port=port,
                    faults=faults,
                    markup=markup,
                    bookshop=shop,
                    latency_ms=latency_ms,
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
    add_latency_option(parser)
    args = parser.parse_args(argv)
    faults = FaultConfig.low() if args.faults == "low" else FaultConfig()
    try:
        markup = Markup(args.markup)
        server = functools.partial(
            run_demo_server, changes=args.change, latency_ms=args.latency
        )
        trio.run(server, args.products, args.port, args.seed, faults, markup, args.books)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
