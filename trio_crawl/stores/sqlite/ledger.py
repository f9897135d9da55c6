"""The crawl ledger in SQLite (the `Ledger` protocol of `stores.ledger`): the catalogue shape,
the state of every list page and product URL, and where the listing shows each stored product.

A list page read is deferred to the next write (`SqliteConnection.defer`); a product turns
`done` in the transaction that stores it (`upserts`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..ledger import LedgerFailure, LedgerPage, LedgerShape, LedgerView, Listed, Relisting
from ..ledger_rows import failure_rows, listed_rows
from .connection import SqliteConnection, utc_timestamp
from .many_rows import ManyRows


class SqliteLedger(SqliteConnection):
    """The ledger's calls on the store's connection."""

    async def view(self) -> LedgerView:
        table = self._table

        def query(connection: sqlite3.Connection) -> LedgerView:
            row = connection.execute(
                "SELECT base_url, last_page, on_last, per_page, ordering FROM catalogue_shape"
            ).fetchone()
            shape = None if row is None else LedgerShape(*row)
            done: dict[tuple[int, int], str] = {}
            stored: set[str] = set()
            for url, page_id, index_in_page, listed in connection.execute(
                "SELECT l.url, l.page_id, l.index_in_page, s.delisted_at IS NULL"
                f' FROM crawl_ledger AS l JOIN "{table}" AS s ON s.url = l.url'
                " WHERE l.item = 'product' AND l.state = 'done'"
            ):
                stored.add(url)
                if listed:
                    done[(page_id, index_in_page)] = url
            return LedgerView(shape, done, frozenset(stored))

        return await self._run(query)

    async def stored_among(self, urls: Iterable[str]) -> frozenset[str]:
        wanted = list(dict.fromkeys(urls))
        table = self._table

        def query(connection: sqlite3.Connection) -> frozenset[str]:
            stored: set[str] = set()
            # A slice at a time: SQLite bounds the parameters of one statement.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                stored.update(
                    url
                    for (url,) in connection.execute(
                        f'SELECT l.url FROM crawl_ledger AS l JOIN "{table}" AS s ON s.url = l.url'
                        f" WHERE l.item = 'product' AND l.state = 'done' AND l.url IN ({marks})",
                        chunk,
                    )
                )
            return frozenset(stored)

        return await self._run(query)

    async def failed_among(self, urls: Iterable[str]) -> list[LedgerFailure]:
        wanted = list(dict.fromkeys(urls))

        def query(connection: sqlite3.Connection) -> list[LedgerFailure]:
            found: list[LedgerFailure] = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found.extend(
                    LedgerFailure(*row)
                    for row in connection.execute(
                        f"{_FAILED_AMONG} AND url IN ({marks}) ORDER BY url", chunk
                    )
                )
            return found

        return await self._run(query)

    async def relist(self, listing: Iterable[Listed], complete: bool, session_id: str) -> Relisting:
        """Give every stored product in `listing` the position the listing shows it at, and
        (with a `complete` listing) mark every other stored product delisted, in one
        transaction. Without a complete listing nothing moves: a product not seen may hold a
        position a seen one would take."""
        if not complete:
            return Relisting()
        table = self._table
        now = utc_timestamp()
        upserts = self._upserts

        def write(connection: sqlite3.Connection) -> Relisting:
            if connection.execute(_NOTHING_TO_RELIST.format(table=table)).fetchone()[0]:
                return Relisting()  # a first run: the listing is not even read
            connection.execute(_LISTING_TABLE)
            connection.execute("DELETE FROM temp.listing")
            for rows in _slices(listing):
                upserts.many(connection, _LISTING_ROWS, rows)
            counts = connection.execute(_RELIST_COUNTS.format(table=table)).fetchone()
            delisted = connection.execute(
                f'UPDATE "{table}" SET delisted_at = ? WHERE delisted_at IS NULL'
                " AND url NOT IN (SELECT url FROM temp.listing)",
                (now,),
            ).rowcount
            # An item no longer listed is no work left, whatever became of it before.
            connection.execute(
                "DELETE FROM crawl_ledger WHERE item = 'product' AND state <> 'done'"
                " AND url NOT IN (SELECT url FROM temp.listing)"
            )
            # Park what moves (positions are unique among the listed, checked row by row),
            # then put everything listed where the listing shows it.
            connection.execute(_RELIST_PARK.format(table=table))
            connection.execute(_RELIST_MOVE.format(table=table), (now,))
            connection.execute(_RELIST_LEDGER)
            connection.execute("DELETE FROM temp.listing")
            return Relisting(moved=counts[0] or 0, relisted=counts[1] or 0, delisted=delisted)

        return await self._write(write)

    async def open_shape(
        self, shape: LedgerShape, pages: Iterable[LedgerPage], session_id: str
    ) -> None:
        now = utc_timestamp()
        rows = (
            {
                "url": page.url,
                "page": page.page,
                "total": shape.total,
                "state": "done" if page.done else "pending",
                "session_id": session_id,
                "updated_at": now,
            }
            for page in pages
        )
        shape_row = {
            "base_url": shape.base_url,
            "last_page": shape.last_page,
            "on_last": shape.on_last,
            "per_page": shape.per_page,
            "total": shape.total,
            "session_id": session_id,
            "seen_at": now,
            "record_table": self._table,
            "ordering": str(shape.ordering),
        }

        def write(connection: sqlite3.Connection) -> None:
            # Page numbers of another shape showed other products: those rows go.
            connection.execute(
                "DELETE FROM crawl_ledger WHERE item = 'page' AND total IS NOT :total", shape_row
            )
            connection.execute(_SHAPE_UPSERT, shape_row)
            connection.executemany(_PAGE_PLANNED, rows)

        await self._write(write)

    async def page_listed(
        self, page: LedgerPage, refs: Sequence[Any], total: int, session_id: str
    ) -> None:
        page_row, products = listed_rows(page, refs, total, session_id, utc_timestamp())
        self.defer(_PAGE_LISTED, [page_row])
        self.defer(_PRODUCT_PENDING, products)

    async def record_failures(self, failures: Sequence[LedgerFailure], session_id: str) -> None:
        """Mark the items a run gave up on (and write the list pages read since the last
        write: a session ends with this call)."""
        rows = failure_rows(failures, session_id, utc_timestamp())

        if rows or self._deferred:
            await self._write(lambda connection: connection.executemany(_FAILED, rows))

    async def newest_position(self) -> int | None:
        per_page = self._per_page
        table = self._table

        def query(connection: sqlite3.Connection) -> int | None:
            row = connection.execute(
                f'SELECT MAX(page_id * ? + index_in_page) FROM "{table}" WHERE delisted_at IS NULL',
                (per_page,),
            ).fetchone()
            return None if row[0] is None else int(row[0])

        return await self._run(query)


def _slices(listing: Iterable[Listed], size: int = 4096) -> Iterator[list[dict[str, Any]]]:
    """The listing as rows, a slice at a time."""
    items = iter(listing)
    while chunk := list(itertools.islice(items, size)):
        yield [
            {
                "url": item.url,
                "page_id": item.page_id,
                "index_in_page": item.index_in_page,
                "id": item.id,
            }
            for item in chunk
        ]


_SHAPE_UPSERT = (
    "INSERT INTO catalogue_shape (id, base_url, last_page, on_last, per_page, total, session_id,"
    " seen_at, record_table, ordering) VALUES (1, :base_url, :last_page, :on_last, :per_page,"
    " :total, :session_id, :seen_at, :record_table, :ordering) ON CONFLICT (id) DO UPDATE SET"
    " base_url = excluded.base_url, last_page = excluded.last_page, on_last = excluded.on_last,"
    " per_page = excluded.per_page, total = excluded.total, session_id = excluded.session_id,"
    " seen_at = excluded.seen_at, record_table = excluded.record_table,"
    " ordering = excluded.ordering"
)
# A page of the shape gets a row once; a row it already has keeps its state.
_PAGE_PLANNED = (
    "INSERT INTO crawl_ledger (url, item, page, total, state, session_id, updated_at)"
    " VALUES (:url, 'page', :page, :total, :state, :session_id, :updated_at)"
    " ON CONFLICT (url) DO UPDATE SET state = 'done', session_id = excluded.session_id,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.state = 'done' AND crawl_ledger.state <> 'done'"
)
_NOTHING_TO_RELIST = (
    'SELECT NOT EXISTS (SELECT 1 FROM "{table}")'
    " AND NOT EXISTS (SELECT 1 FROM crawl_ledger WHERE item = 'product')"
)
"""No product stored and none in the ledger: every statement of a relisting would change
nothing, and its counts would all be 0."""
_LISTING_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS listing (url TEXT PRIMARY KEY, page_id INTEGER NOT NULL,"
    " index_in_page INTEGER NOT NULL, id TEXT NOT NULL)"
)
_RELIST_COUNTS = (
    "SELECT SUM(s.delisted_at IS NULL AND (s.page_id <> l.page_id"
    " OR s.index_in_page <> l.index_in_page)), SUM(s.delisted_at IS NOT NULL)"
    ' FROM "{table}" AS s JOIN temp.listing AS l ON l.url = s.url'
)
_RELIST_PARK = (
    'UPDATE "{table}" SET page_id = -"{table}".rowid FROM temp.listing AS l'
    ' WHERE "{table}".url = l.url'
    ' AND ("{table}".delisted_at IS NOT NULL OR "{table}".page_id <> l.page_id'
    ' OR "{table}".index_in_page <> l.index_in_page)'
)
_RELIST_MOVE = (
    'UPDATE "{table}" SET page_id = l.page_id, index_in_page = l.index_in_page, id = l.id,'
    " listed_at = ?, delisted_at = NULL FROM temp.listing AS l"
    ' WHERE "{table}".url = l.url'
)
_RELIST_LEDGER = (
    "UPDATE crawl_ledger SET page_id = l.page_id, index_in_page = l.index_in_page"
    " FROM temp.listing AS l WHERE crawl_ledger.url = l.url AND crawl_ledger.item = 'product'"
)


_LISTING_ROWS = ManyRows(
    "temp.listing",
    ("url", "page_id", "index_in_page", "id"),
    "(?, ?, ?, ?)",
    ("url", "page_id", "index_in_page", "id"),
)
# The statements of a list page read (deferred to the next write).
_PAGE_LISTED = ManyRows(
    "crawl_ledger",
    ("url", "item", "page", "total", "state", "session_id", "updated_at"),
    "(?, 'page', ?, ?, 'done', ?, ?)",
    ("url", "page", "total", "session_id", "updated_at"),
    "SET item = 'page', page = excluded.page, total = excluded.total, state = 'done',"
    " stage = NULL, error_kind = NULL, last_error = NULL, session_id = excluded.session_id,"
    " updated_at = excluded.updated_at",
)
# A product seen on a list page is pending until it is stored; a done one stays done.
_PRODUCT_PENDING = ManyRows(
    "crawl_ledger",
    ("url", "item", "page", "total", "page_id", "index_in_page", "state", "session_id",
     "updated_at"),
    "(?, 'product', ?, ?, ?, ?, 'pending', ?, ?)",
    ("url", "page", "total", "page_id", "index_in_page", "session_id", "updated_at"),
    "SET page = excluded.page, total = excluded.total, page_id = excluded.page_id,"
    " index_in_page = excluded.index_in_page, state = 'pending',"
    " session_id = excluded.session_id, updated_at = excluded.updated_at",
    "crawl_ledger.state <> 'done'",
)  # fmt: skip
_FAILED = (
    "INSERT INTO crawl_ledger (url, item, page, page_id, index_in_page, state, stage, error_kind,"
    " attempts, last_error, session_id, updated_at) VALUES (:url, :item, :page, :page_id,"
    " :index_in_page, :state, :stage, :error_kind, :attempts, :last_error, :session_id,"
    " :updated_at)"
    " ON CONFLICT (url) DO UPDATE SET state = excluded.state, stage = excluded.stage,"
    " error_kind = excluded.error_kind, attempts = excluded.attempts,"
    " last_error = excluded.last_error, session_id = excluded.session_id,"
    " updated_at = excluded.updated_at,"
    " page_id = COALESCE(excluded.page_id, crawl_ledger.page_id),"
    " index_in_page = COALESCE(excluded.index_in_page, crawl_ledger.index_in_page)"
    # A stored product stays done; a list page that failed when read again did fail.
    " WHERE crawl_ledger.state <> 'done' OR excluded.item = 'page'"
)


_FAILED_AMONG = (
    "SELECT url, item, state, COALESCE(stage, '') AS stage, COALESCE(error_kind, state) AS kind,"
    " attempts, COALESCE(last_error, '') AS last_error, page, page_id, index_in_page"
    " FROM crawl_ledger WHERE state = 'failed'"
)
