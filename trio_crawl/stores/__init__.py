"""Where a crawl keeps what it found: the `Store` protocol, the embedded SQLite store (the
default), the PostgreSQL store (`PostgresStore`, loaded on first use: it needs psycopg),
`open_store` for either by path or URL, export of stored products to JSON Lines or CSV, and the
status of a stored crawl."""

from typing import TYPE_CHECKING, Any

from .location import open_store as open_store
from .location import read_status as read_status
from .protocol import DatabaseStore as DatabaseStore
from .protocol import Store as Store
from .records import RecordTable as RecordTable
from .schema import StoreOpenError as StoreOpenError
from .sqlite import SqliteStore as SqliteStore
from .status import CrawlStatus as CrawlStatus
from .status import continue_command as continue_command

if TYPE_CHECKING:
    from .export import ExportFormat as ExportFormat
    from .export import check_output as check_output
    from .export import export_products as export_products
    from .postgres import PostgresStore as PostgresStore

# Loaded on first use: a crawl exports nothing (and the PostgreSQL store needs psycopg).
_LAZY = {
    "ExportFormat": ".export",
    "check_output": ".export",
    "export_products": ".export",
    "PostgresStore": ".postgres",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
