"""`SqliteStore`: the embedded store, one WAL-mode SQLite file, put together from its parts.

Each part is the SQL of one concern on the shared connection (`connection`): the crawl ledger
(`ledger`), crawl runs (`runs`) and the items' upserts (`upserts`); opening a file is
`opening`'s. Another backend implements the same protocols (`stores.protocol`,
`stores.ledger`) with its own parts of the same names.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from ..records import RecordTable
from .ledger import SqliteLedger
from .opening import create_records, open_connection
from .runs import SqliteRuns
from .upserts import SqliteUpserts


class SqliteStore(SqliteLedger, SqliteRuns, SqliteUpserts):
    """A `Store` (and `Ledger`, `RunHeartbeat`) backed by one SQLite file. Create it with
    `SqliteStore.open(path)`.

    `per_page` is the catalogue's page size, used to turn `(page_id, index_in_page)` into a
    position for `newest_position()`.
    """

    @property
    def records(self) -> RecordTable:
        """The table the catalogue's items are kept in."""
        return self._records

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 1000,
        per_page: int = 12,
        records: RecordTable | None = None,
    ) -> AsyncIterator[SqliteStore]:
        """Open (creating if needed) the database at `path` and its schema; close it on exit.

        `busy_timeout_ms` is how long a write waits for another writer's lock before failing
        with `database_busy`; opening tries again for up to `opening.OPEN_BUSY_SECS` in all.
        Items are kept in the table `records` (`RecordTable.for_site(site)`); without it, in
        the Matter catalogue's (`MATTER_RECORDS`). A file that is not a
        trio_crawl database (see `schema.inspect`), or one that cannot be opened, raises
        `StoreOpenError` and is left unchanged.
        """
        if busy_timeout_ms < 0:
            raise ValueError(f"busy_timeout_ms must be >= 0, got {busy_timeout_ms!r}")
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page!r}")
        connection = await open_connection(os.fspath(path), busy_timeout_ms)
        store = cls(connection, per_page=per_page, records=records, path=os.fspath(path))
        table = store.records
        try:
            await store._run(lambda connection: create_records(connection, table, path))
            yield store
        finally:
            # Close even when the surrounding scope is cancelled, or the file stays open.
            with trio.CancelScope(shield=True):
                await store.aclose()
