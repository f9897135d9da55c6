"""Storing a catalogue's items in SQLite: idempotent upserts by url into the site's record table
(`stores.records`), each batch marked done in the crawl ledger in the same transaction, so that
`done` rows and the stored items always agree."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar

from ..records import RecordTable
from .connection import Row, SqliteConnection, utc_timestamp
from .many_rows import Upserts, upsert_of

T = TypeVar("T")


class SqliteUpserts(SqliteConnection):
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
        rows = [records.row(item, now) for item in winners]
        done_rows = [_done_row(item, session_id, now) for item in winners]
        upserts = self._upserts
        return await self._write(
            lambda connection: _save(connection, upserts, records, rows, done_rows)
        )

    async def count_products(self) -> int:
        """How many items are stored."""
        table = self._table

        def query(connection: sqlite3.Connection) -> int:
            return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

        return await self._run(query)

    async def fetch_products(self) -> list[Row]:
        """Every stored item as its record table's row, oldest position first (a delisted one
        after the listed one at its position)."""
        table = self._table
        query = (
            f'SELECT * FROM "{table}" ORDER BY page_id, index_in_page, delisted_at IS NOT NULL, url'
        )
        return await self._run(lambda connection: [dict(row) for row in connection.execute(query)])


def latest_per_url_and_position(products: Sequence[T]) -> list[T]:
    """Drop every product that a later one in the batch supersedes (same url or same position),
    so the batch's upserts cannot collide with each other. Keeps batch order."""
    seen_urls: set[str] = set()
    seen_positions: set[tuple[int, int]] = set()
    kept: list[T] = []
    for product in reversed(products):
        ref = product.ref  # type: ignore[attr-defined]
        position = (ref.page_id, ref.index_in_page)
        if ref.url in seen_urls or position in seen_positions:
            continue
        seen_urls.add(ref.url)
        seen_positions.add(position)
        kept.append(product)
    kept.reverse()
    return kept


LEDGER_DONE_COLUMNS = (
    "url",
    "item",
    "page_id",
    "index_in_page",
    "state",
    "stage",
    "error_kind",
    "last_error",
    "session_id",
    "updated_at",
)


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


def _save(
    connection: sqlite3.Connection,
    upserts: Upserts,
    records: RecordTable,
    rows: list[Row],
    done_rows: list[Row],
) -> int:
    # (`rows` never repeat a url: `latest_per_url_and_position` saw to that.)
    upserts.many(connection, upsert_of(records.name, records.column_names), rows)
    upserts.many(connection, upsert_of("crawl_ledger", LEDGER_DONE_COLUMNS), done_rows)
    return len(rows)
