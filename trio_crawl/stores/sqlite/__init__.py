"""The embedded SQLite store: `SqliteStore` and the pieces callers use beside it."""

from .connection import map_sqlite_errors as map_sqlite_errors
from .connection import utc_timestamp as utc_timestamp
from .store import SqliteStore as SqliteStore
from .upserts import latest_per_url_and_position as latest_per_url_and_position

__all__ = ["SqliteStore", "latest_per_url_and_position", "map_sqlite_errors", "utc_timestamp"]
