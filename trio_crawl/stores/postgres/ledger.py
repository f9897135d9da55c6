"""The crawl ledger in PostgreSQL (the `Ledger` protocol of `stores.ledger`): the catalogue
shape, the state of every list page and product URL, and where the listing shows each stored
product.

A list page read is deferred to the next write (`PostgresConnection.defer`); a product turns
`done` in the transaction that stores it (`upserts`). The listing a `relist` compares goes into
a temporary table in one statement (`unnest` of one array per column), emptied at commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..ledger import LedgerFailure, LedgerPage, LedgerShape, LedgerView, Listed, Relisting
from ..ledger_rows import failure_rows, listed_rows
from .connection import Connection, ManyRows, PostgresConnection, insert_many, utc_timestamp


class PostgresLedger(PostgresConnection):
    """The ledger's calls on the store's connection."""

    async def view(self) -> LedgerView:
        table = self._table

        def query(connection: Connection) -> LedgerView:
            with connection.transaction():
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = connection.execute(
                    "SELECT base_url, last_page, on_last, per_page, ordering FROM catalogue_shape"
                ).fetchone()
                shape = None if row is None else LedgerShape(**row)
                done: dict[tuple[int, int], str] = {}
                stored: set[str] = set()
                for found in connection.execute(
                    "SELECT l.url, l.page_id, l.index_in_page, s.delisted_at IS NULL AS listed"
                    f' FROM crawl_ledger AS l JOIN "{table}" AS s ON s.url = l.url'
                    " WHERE l.item = 'product' AND l.state = 'done'"
                ):
                    stored.add(found["url"])
                    if found["listed"]:
                        done[(found["page_id"], found["index_in_page"])] = found["url"]
            return LedgerView(shape, done, frozenset(stored))

        return await self._run(query)

    async def stored_among(self, urls: Iterable[str]) -> frozenset[str]:
        wanted = list(dict.fromkeys(urls))
        table = self._table

        def query(connection: Connection) -> frozenset[str]:
            found = connection.execute(
                f'SELECT l.url FROM crawl_ledger AS l JOIN "{table}" AS s ON s.url = l.url'
                " WHERE l.item = 'product' AND l.state = 'done' AND l.url = ANY(%s)",
                (wanted,),
            )
            return frozenset(row["url"] for row in found)

        return await self._run(query)

    async def failed_among(self, urls: Iterable[str]) -> list[LedgerFailure]:
        wanted = list(dict.fromkeys(urls))

        def query(connection: Connection) -> list[LedgerFailure]:
            found = connection.execute(
                f"{_FAILED_AMONG} AND url = ANY(%s) ORDER BY url",
                (wanted,),
            )
            return [LedgerFailure(**row) for row in found]

        return await self._run(query)

    async def relist(self, listing: Iterable[Listed], complete: bool, session_id: str) -> Relisting:
        """Give every stored product in `listing` the position the listing shows it at, and
        (with a `complete` listing) mark every other stored product delisted, in one
        transaction. Without a complete listing nothing moves."""
        if not complete:
            return Relisting()
        table = self._table
        now = utc_timestamp()

        def write(connection: Connection) -> Relisting:
            nothing = connection.execute(_NOTHING_TO_RELIST.format(table=table)).fetchone()
            if nothing is not None and nothing["nothing"]:
                return Relisting()  # a first run: the listing is not even read
            latest = {item.url: item for item in listing}
            columns = (
                list(latest),
                [item.page_id for item in latest.values()],
                [item.index_in_page for item in latest.values()],
                [item.id for item in latest.values()],
            )
            connection.execute(_LISTING_TABLE)
            connection.execute(_LISTING_ROWS, columns)
            counts = connection.execute(_RELIST_COUNTS.format(table=table)).fetchone()
            delisted = connection.execute(
                f'UPDATE "{table}" AS s SET delisted_at = %s WHERE s.delisted_at IS NULL'
                " AND NOT EXISTS (SELECT 1 FROM listing AS l WHERE l.url = s.url)",
                (now,),
            ).rowcount
            # An item no longer listed is no work left, whatever became of it before.
            connection.execute(
                "DELETE FROM crawl_ledger AS c WHERE c.item = 'product' AND c.state <> 'done'"
                " AND NOT EXISTS (SELECT 1 FROM listing AS l WHERE l.url = c.url)"
            )
            # Positions are not unique in a record table: everything listed moves at once.
            connection.execute(_RELIST_MOVE.format(table=table), (now,))
            connection.execute(_RELIST_LEDGER)
            assert counts is not None
            return Relisting(moved=counts["moved"], relisted=counts["relisted"], delisted=delisted)

        return await self._write(write)

    async def open_shape(
        self, shape: LedgerShape, pages: Iterable[LedgerPage], session_id: str
    ) -> None:
        now = utc_timestamp()
        rows = [
            {
                "url": page.url,
                "page": page.page,
                "total": shape.total,
                "state": "done" if page.done else "pending",
                "session_id": session_id,
                "updated_at": now,
            }
            for page in pages
        ]
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

        def write(connection: Connection) -> None:
            # Page numbers of another shape showed other products: those rows go.
            connection.execute(
                "DELETE FROM crawl_ledger WHERE item = 'page' AND total IS DISTINCT FROM %s",
                (shape.total,),
            )
            connection.execute(_SHAPE_UPSERT, shape_row)
            insert_many(connection, _PAGE_PLANNED, rows)

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
            await self._write(
                lambda connection: insert_many(connection, _FAILED, rows), pipelined=True
            )

    async def newest_position(self) -> int | None:
        per_page = self._per_page
        table = self._table

        def query(connection: Connection) -> int | None:
            row = connection.execute(
                f'SELECT MAX(page_id * %s + index_in_page) AS newest FROM "{table}"'
                " WHERE delisted_at IS NULL",
                (per_page,),
            ).fetchone()
            return None if row is None or row["newest"] is None else int(row["newest"])

        return await self._run(query)


_SHAPE_UPSERT = (
    "INSERT INTO catalogue_shape (id, base_url, last_page, on_last, per_page, total, session_id,"
    " seen_at, record_table, ordering) VALUES (1, %(base_url)s, %(last_page)s, %(on_last)s,"
    " %(per_page)s, %(total)s, %(session_id)s, %(seen_at)s, %(record_table)s, %(ordering)s)"
    " ON CONFLICT (id) DO UPDATE SET base_url = excluded.base_url,"
    " last_page = excluded.last_page, on_last = excluded.on_last,"
    " per_page = excluded.per_page, total = excluded.total, session_id = excluded.session_id,"
    " seen_at = excluded.seen_at, record_table = excluded.record_table,"
    " ordering = excluded.ordering"
)
# A page of the shape gets a row once; a row it already has keeps its state.
_PAGE_PLANNED = ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, total, state, session_id, updated_at)",
    "(%s, 'page', %s, %s, %s, %s, %s)",
    " ON CONFLICT (url) DO UPDATE SET state = 'done', session_id = excluded.session_id,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.state = 'done' AND crawl_ledger.state <> 'done'",
    ("url", "page", "total", "state", "session_id", "updated_at"),
)
_NOTHING_TO_RELIST = (
    'SELECT NOT EXISTS (SELECT 1 FROM "{table}")'
    " AND NOT EXISTS (SELECT 1 FROM crawl_ledger WHERE item = 'product') AS nothing"
)
"""No product stored and none in the ledger: the relisting would change nothing."""
_LISTING_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS listing (url TEXT PRIMARY KEY, page_id INTEGER NOT NULL,"
    " index_in_page INTEGER NOT NULL, id TEXT NOT NULL) ON COMMIT DELETE ROWS"
)
_LISTING_ROWS = (
    "INSERT INTO listing (url, page_id, index_in_page, id)"
    " SELECT * FROM unnest(%s::text[], %s::integer[], %s::integer[], %s::text[])"
)
_RELIST_COUNTS = (
    "SELECT COUNT(*) FILTER (WHERE s.delisted_at IS NULL AND (s.page_id <> l.page_id"
    " OR s.index_in_page <> l.index_in_page)) AS moved,"
    " COUNT(*) FILTER (WHERE s.delisted_at IS NOT NULL) AS relisted"
    ' FROM "{table}" AS s JOIN listing AS l ON l.url = s.url'
)
_RELIST_MOVE = (
    'UPDATE "{table}" AS s SET page_id = l.page_id, index_in_page = l.index_in_page, id = l.id,'
    " listed_at = %s, delisted_at = NULL FROM listing AS l WHERE s.url = l.url"
)
_RELIST_LEDGER = (
    "UPDATE crawl_ledger AS c SET page_id = l.page_id, index_in_page = l.index_in_page"
    " FROM listing AS l WHERE c.url = l.url AND c.item = 'product'"
)
# The statements of a list page read (deferred to the next write).
_PAGE_LISTED = ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, total, state, session_id, updated_at)",
    "(%s, 'page', %s, %s, 'done', %s, %s)",
    " ON CONFLICT (url) DO UPDATE SET item = 'page', page = excluded.page,"
    " total = excluded.total, state = 'done', stage = NULL, error_kind = NULL,"
    " last_error = NULL, session_id = excluded.session_id, updated_at = excluded.updated_at",
    ("url", "page", "total", "session_id", "updated_at"),
)
# A product seen on a list page is pending until it is stored; a done one stays done.
_PRODUCT_PENDING = ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, total, page_id, index_in_page, state, session_id,"
    " updated_at)",
    "(%s, 'product', %s, %s, %s, %s, 'pending', %s, %s)",
    " ON CONFLICT (url) DO UPDATE SET page = excluded.page, total = excluded.total,"
    " page_id = excluded.page_id, index_in_page = excluded.index_in_page, state = 'pending',"
    " session_id = excluded.session_id, updated_at = excluded.updated_at"
    " WHERE crawl_ledger.state <> 'done'",
    ("url", "page", "total", "page_id", "index_in_page", "session_id", "updated_at"),
)
_FAILED = ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, page_id, index_in_page, state, stage, error_kind,"
    " attempts, last_error, session_id, updated_at)",
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    " ON CONFLICT (url) DO UPDATE SET state = excluded.state, stage = excluded.stage,"
    " error_kind = excluded.error_kind, attempts = excluded.attempts,"
    " last_error = excluded.last_error, session_id = excluded.session_id,"
    " updated_at = excluded.updated_at,"
    " page_id = COALESCE(excluded.page_id, crawl_ledger.page_id),"
    " index_in_page = COALESCE(excluded.index_in_page, crawl_ledger.index_in_page)"
    # A stored product stays done; a list page that failed when read again did fail.
    " WHERE crawl_ledger.state <> 'done' OR excluded.item = 'page'",
    (
        "url", "item", "page", "page_id", "index_in_page", "state", "stage", "error_kind",
        "attempts", "last_error", "session_id", "updated_at",
    ),
)  # fmt: skip


_FAILED_AMONG = (
    "SELECT url, item, state, COALESCE(stage, '') AS stage, COALESCE(error_kind, state) AS kind,"
    " attempts, COALESCE(last_error, '') AS last_error, page, page_id, index_in_page"
    " FROM crawl_ledger WHERE state = 'failed'"
)
