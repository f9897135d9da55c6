"""Where a crawl keeps what it found: the `Store` protocol, the embedded SQLite store (the
default) and export of stored products to JSON Lines or CSV."""

from .export import ExportFormat as ExportFormat
from .export import export_products as export_products
from .protocol import Store as Store
from .schema import StoreOpenError as StoreOpenError
from .sqlite import SqliteStore as SqliteStore
