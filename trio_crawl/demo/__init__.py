"""A local imitation of the CSA-IoT Matter certified-product catalogue, with fault injection,
and a small ISO-8859-1 bookshop (`DemoBookshop`) served beside it under ``/books/``.

The demo command, the tests and the benchmarks crawl it::

    from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_demo, DemoCatalogue(products=4000))
        print(server.base_url)          # http://127.0.0.1:PORT

The server's names (`serve_demo`, `DemoServer`, `DemoStats`, `run_demo_server`) are imported on
first use, so that ``python -m trio_crawl.demo.server`` does not import its own module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .bookshop import DemoBook as DemoBook
from .bookshop import DemoBookshop as DemoBookshop
from .catalogue import DemoCatalogue as DemoCatalogue
from .faults import FaultConfig as FaultConfig
from .faults import FaultKind as FaultKind
from .faults import FaultPlan as FaultPlan
from .markup import Markup as Markup
from .markup import detail_url as detail_url
from .markup import list_url as list_url
from .products import DemoProduct as DemoProduct
from .renderer import Renderer as Renderer
from .static import write_static_site as write_static_site

if TYPE_CHECKING:
    from .connections import DemoServer as DemoServer
    from .connections import DemoStats as DemoStats
    from .server import run_demo_server as run_demo_server
    from .server import serve_demo as serve_demo

_SERVER_NAMES = {  # name: its module
    "DemoServer": "connections",
    "DemoStats": "connections",
    "run_demo_server": "server",
    "serve_demo": "server",
}

__all__ = [
    "Markup",
    "DemoBook",
    "DemoBookshop",
    "DemoCatalogue",
    "DemoProduct",
    "DemoServer",
    "DemoStats",
    "FaultConfig",
    "FaultKind",
    "FaultPlan",
    "Renderer",
    "detail_url",
    "list_url",
    "run_demo_server",
    "serve_demo",
    "write_static_site",
]


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        import importlib

        return getattr(importlib.import_module(f".{_SERVER_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
