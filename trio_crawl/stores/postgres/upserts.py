"""Storing a catalogue's items in PostgreSQL: idempotent upserts by url (``INSERT … ON
CONFLICT``, a batch in one round trip) into the site's record table (`stores.records`), each batch
marked done in the crawl ledger in the same transaction, so that `done` rows and the stored
items always agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..records import RecordTable
from ..sqlite.upserts import LEDGER_DONE_COLUMNS, latest_per_url_and_position
from .connection import (
    Connection,
    PostgresConnection,
    Row,
    insert_many,
    upsert_statement,
    utc_timestamp,
)


class PostgresUpserts(PostgresConnection):
    """The store's writes of items, and the reads tests and the CLI make of them."""

    async def save_products(self, products: Sequence[Any]) -> int:
        """Upsert `products` (the site's items) in one transaction, marking them done in the
        ledger in it; returns how many were written.

        Saving the same item again updates its row (`updated_at` changes, `created_at`
        stays). Within a batch the last item for a url or a position wins.
        """
        return await self.save_done(products, None)

    async def save_done(self, products: Sequence[Any], session_id: str | None) -> int:
        """`save_products`, with the ledger rows saying which session stored them."""
        winners = latest_per_url_and_position(products)
        if not winners:
            return 0
        now = utc_timestamp()
        records = self._records
        flags = [c.name for c in records.columns if c.sql_type == "BOOLEAN"]
        rows = [_typed(records.row(item, now), flags) for item in winners]
        done_rows = [_done_row(item, session_id, now) for item in winners]
        return await self._write(lambda connection: _save(connection, records, rows, done_rows))

    async def count_products(self) -> int:
        """How many items are stored."""
        table = self._table

        def query(connection: Connection) -> int:
            row = connection.execute(f'SELECT COUNT(*) AS n FROM "{table}"').fetchone()
            return 0 if row is None else int(row["n"])

        return await self._run(query)

    async def fetch_products(self) -> list[Row]:
        """Every stored item as its record table's row, oldest position first (a delisted one
        after the listed one at its position)."""
        query = (
            f'SELECT * FROM "{self._table}"'
            " ORDER BY page_id, index_in_page, delisted_at IS NOT NULL, url"
        )
        return await self._run(lambda connection: list(connection.execute(query)))


def _typed(row: Row, flags: Sequence[str]) -> Row:
    """`RecordTable.row` keeps booleans as 0/1 (SQLite's way); PostgreSQL has the type."""
    for name in flags:
        if row[name] is not None:
            row[name] = bool(row[name])
    return row


def _done_row(product: Any, session_id: str | None, now: str) -> Row:
    ref = product.ref
    return {
        "url": ref.url,
        "item": "product",
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "state": "done",
        "stage": None,
        "error_kind": None,
        "last_error": None,
        "session_id": session_id,
        "updated_at": now,
    }


def _save(connection: Connection, records: RecordTable, rows: list[Row], done: list[Row]) -> int:
    insert_many(connection, upsert_statement(records.name, records.column_names), rows)
    insert_many(connection, upsert_statement("crawl_ledger", LEDGER_DONE_COLUMNS), done)
    return len(rows)
