"""`PostgresStore`: the server store, put together from its parts.

Each part is the SQL of one concern on the shared connection (`connection`): the crawl ledger
(`ledger`), crawl runs (`runs`) and the items' upserts (`upserts`); connecting and setting up a
database is `opening`'s. The same protocols as the SQLite store (`stores.protocol`,
`stores.ledger`), so the crawl cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import trio

from ...engine.results import StageError
from ..records import RecordTable
from ..schema import StoreOpenError
from .connection import connect
from .ledger import PostgresLedger
from .opening import connect_error, set_up
from .runs import PostgresRuns
from .upserts import PostgresUpserts


class PostgresStore(PostgresLedger, PostgresRuns, PostgresUpserts):
    """A `Store` (and `Ledger`, `RunHeartbeat`) in a PostgreSQL database. Create it with
    `PostgresStore.open(url)`; any number of processes, on any hosts, may open one database
    at once."""

    @property
    def records(self) -> RecordTable:
        """The table the catalogue's items are kept in."""
        return self._records

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        per_page: int = 12,
        records: RecordTable | None = None,
        shown: str | None = None,
    ) -> AsyncIterator[PostgresStore]:
        """Connect to the database at `url` (``postgresql://user:password@host:port/name``),
        check it and create what is missing; close it on exit.

        Items are kept in the table `records` (`RecordTable.for_site(site)`); without it, in the
        Matter catalogue's. A database that cannot be reached, or is not a trio_crawl database
        (see `opening`), raises `StoreOpenError` (naming it by `shown`, the URL without its
        password) and is left unchanged.
        """
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page!r}")
        where = url if shown is None else shown
        try:
            connection = await trio.to_thread.run_sync(connect, url)
        except psycopg.Error as exc:
            raise connect_error(where, exc, url) from exc
        store = cls(connection, url, shown=where, per_page=per_page, records=records)
        table = store.records
        try:
            try:
                await store._run(lambda connection: set_up(connection, table, where))
            except StoreOpenError:
                raise
            except StageError as error:
                message = f"cannot set up {where}: {error.message}"
                raise StoreOpenError(where, message, error.kind) from error
            yield store
        finally:
            # Close even when the surrounding scope is cancelled.
            with trio.CancelScope(shield=True):
                await store.aclose()
