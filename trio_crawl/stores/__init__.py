"""Where a crawl keeps what it found: the `Store` protocol, the embedded SQLite store (the
default), export of stored products to JSON Lines or CSV, and the status of a stored crawl."""

from .export import ExportFormat as ExportFormat
from .export import check_output as check_output
from .export import export_products as export_products
from .protocol import Store as Store
from .records import RecordTable as RecordTable
from .schema import StoreOpenError as StoreOpenError
from .sqlite import SqliteStore as SqliteStore
from .sqlite.status_read import read_status as read_status
from .status import CrawlStatus as CrawlStatus
from .status import continue_command as continue_command
