"""Storing a catalogue's items in PostgreSQL: idempotent upserts by url (``INSERT … ON
CONFLICT``) into the site's record table (`stores.records`), each batch marked done in the crawl
ledger by the same statement, so that `done` rows and the stored items always agree.

A batch is one statement whatever its size (`save_statement`): its rows travel as one JSON
parameter that ``json_populate_recordset`` turns into rows of the record table's own type, and
the rows the upsert returns are the ledger's done rows (a data-modifying ``WITH``). One
statement is atomic on its own, and one shape of statement is parsed and planned once (psycopg
prepares it after a few uses); a save is then one round trip, the rows deferred to it included
(`PostgresConnection._write`)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from typing import Any

from ..sqlite.upserts import latest_per_url_and_position
from .connection import Connection, PostgresConnection, Row, utc_timestamp


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
        reals = [c.name for c in records.columns if c.sql_type == "REAL"]
        rows = [_typed(records.row(item, now), flags, reals) for item in winners]
        rows.sort(key=lambda row: row["url"])  # two writers lock rows in one order
        parameters = (_JSON.encode(rows), session_id, now)
        statement = save_statement(records.name, records.column_names)

        def save(connection: Connection) -> int:
            connection.execute(statement, parameters)
            return len(rows)

        return await self._write(save, pipelined=True)

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


def _typed(row: Row, flags: Sequence[str], reals: Sequence[str]) -> Row:
    """`RecordTable.row` keeps booleans as 0/1 (SQLite's way); PostgreSQL has the type. JSON
    has no NaN or infinity: those go as the text PostgreSQL reads them from."""
    for name in flags:
        if row[name] is not None:
            row[name] = bool(row[name])
    for name in reals:
        value = row[name]
        if isinstance(value, float) and not math.isfinite(value):
            row[name] = str(value)
    return row


_JSON = json.JSONEncoder(ensure_ascii=False)


@functools.lru_cache(maxsize=64)
def save_statement(table: str, columns: tuple[str, ...]) -> str:
    """Upsert by url the rows of a JSON array into `table` (every column but url and created_at
    updated), in url order, and mark each row written done in the ledger."""
    updates = ", ".join(
        f'"{column}" = excluded."{column}"'
        for column in columns
        if column not in ("url", "created_at")
    )
    return (
        f'WITH saved AS (INSERT INTO "{table}"'
        f' SELECT * FROM json_populate_recordset(NULL::"{table}", %s::json) ORDER BY url'
        f" ON CONFLICT (url) DO UPDATE SET {updates} RETURNING url, page_id, index_in_page)"
        " INSERT INTO crawl_ledger (url, item, page_id, index_in_page, state, session_id,"
        " updated_at) SELECT url, 'product', page_id, index_in_page, 'done', %s, %s"
        " FROM saved ORDER BY url"
        " ON CONFLICT (url) DO UPDATE SET item = excluded.item, page_id = excluded.page_id,"
        " index_in_page = excluded.index_in_page, state = 'done', stage = NULL,"
        " error_kind = NULL, last_error = NULL, session_id = excluded.session_id,"
        " updated_at = excluded.updated_at"
    )
