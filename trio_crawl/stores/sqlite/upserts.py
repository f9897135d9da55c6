"""Storing a catalogue's items in SQLite: idempotent upserts by url, each batch marked done in the
crawl ledger in the same transaction, so that `done` rows and the stored items always agree."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, TypeVar

from ...sites.records import Product
from ..records import RecordTable
from ..schema import DETAIL_COLUMNS, PRODUCT_COLUMNS, RECORD_QUERY
from .connection import Row, SqliteConnection, upsert_at_once, utc_timestamp

T = TypeVar("T")


class SqliteUpserts(SqliteConnection):
    """The store's writes of items, and the reads tests and the CLI make of them."""

    async def save_products(self, products: Sequence[Any]) -> int:
        """Upsert `products` (and their details) in one transaction, marking them done in the
        ledger in it; returns how many products were written.

        Saving the same product again updates its row (`updated_at` changes, `created_at`
        stays). Within a batch the last product for a url or a position wins; a stored product
        that holds one of the batch's positions under another url is deleted first.
        """
        return await self.save_done(products, None)

    async def save_done(self, products: Sequence[Any], session_id: str | None) -> int:
        """`save_products`, with the ledger rows saying which session stored them."""
        winners = latest_per_url_and_position(products)
        if not winners:
            return 0
        now = utc_timestamp()
        done_rows = [_done_row(product, session_id, now) for product in winners]
        records = self._records
        if records is not None:
            rows = [records.row(item, now) for item in winners]
            return await self._write(
                lambda connection: _save_records(connection, records, rows, done_rows)
            )
        product_rows = [_product_row(product, now) for product in winners]
        detail_rows = [_detail_row(product, now) for product in winners]
        return await self._write(
            lambda connection: _save(connection, product_rows, detail_rows, done_rows)
        )

    # -- the Ledger protocol -----------------------------------------------------------------

    async def count_products(self) -> int:
        """How many products (or, with a `RecordTable`, records) are stored."""
        table = self._table

        def query(connection: sqlite3.Connection) -> int:
            return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

        return await self._run(query)

    async def fetch_products(self) -> list[Row]:
        """Every product as one flat record (`schema.RECORD_QUERY`), oldest position first."""
        return await self._run(
            lambda connection: [dict(row) for row in connection.execute(RECORD_QUERY)]
        )


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


def _product_row(product: Product, now: str) -> Row:
    ref = product.ref
    return {
        "url": ref.url,
        "manufacturer": ref.manufacturer,
        "model": ref.model,
        "certificate_id": ref.certificate_id,
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "id": ref.id,
        "created_at": now,
        "updated_at": now,
        "listed_at": now,
        "delisted_at": None,
    }


def _detail_row(product: Product, now: str) -> Row:
    ref, detail = product.ref, product.detail
    # Keyed by the list's url, which is what products references (a detail page may redirect).
    return {
        "url": ref.url,
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "id": ref.id,
        "manufacturer": detail.manufacturer,
        "model": detail.model,
        "device_type": detail.device_type,
        "certificate_id": detail.certificate_id,
        "certification_date": detail.certification_date,
        "software_version": detail.software_version,
        "hardware_version": detail.hardware_version,
        "firmware_version": detail.firmware_version,
        "specification_version": detail.specification_version,
        "vid": detail.vid,
        "pid": detail.pid,
        "family_sku": detail.family_sku,
        "family_variant_sku": detail.family_variant_sku,
        "family_id": detail.family_id,
        "tis_trp_tested": detail.tis_trp_tested,
        "transport_interface": detail.transport_interface,
        "primary_device_type_id": detail.primary_device_type_id,
        "program_type": detail.program_type,
        "created_at": now,
        "updated_at": now,
    }


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


_UNDONE_EVICTED = (
    "DELETE FROM crawl_ledger WHERE item = 'product' AND state = 'done'"
    " AND url NOT IN (SELECT url FROM products)"
)


_PARK = (
    "UPDATE {table} SET page_id = -rowid WHERE url = :url"
    " AND (page_id <> :page_id OR index_in_page <> :index_in_page)"
)
_PARK_PRODUCT = _PARK.format(table="products")
_PARK_DETAIL = _PARK.format(table="product_details")
# Only a listed product holds its position: a delisted one keeps its last, shared or not.
_EVICT_DETAIL = (
    "DELETE FROM product_details WHERE url <> :url AND url IN (SELECT url FROM products"
    "  WHERE page_id = :page_id AND index_in_page = :index_in_page AND delisted_at IS NULL)"
)
_EVICT_PRODUCT = (
    "DELETE FROM products WHERE url <> :url"
    " AND page_id = :page_id AND index_in_page = :index_in_page AND delisted_at IS NULL"
)


def _save(
    connection: sqlite3.Connection,
    product_rows: list[Row],
    detail_rows: list[Row],
    done_rows: list[Row],
) -> int:
    """Upsert a batch of products and mark them done (inside the caller's transaction)."""
    # The usual batch moves nothing: plain upserts do it in a third of the statements. A
    # position held by another url fails the unique index; then undo and take the long way.
    connection.execute("SAVEPOINT plain_upsert")
    try:
        _upsert_both(connection, product_rows, detail_rows)
    except sqlite3.IntegrityError:
        connection.execute("ROLLBACK TO plain_upsert")
    else:
        connection.execute("RELEASE plain_upsert")
        upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
        return len(product_rows)
    connection.execute("RELEASE plain_upsert")
    connection.executemany(_PARK_DETAIL, product_rows)
    connection.executemany(_PARK_PRODUCT, product_rows)
    connection.executemany(_EVICT_DETAIL, product_rows)
    connection.executemany(_EVICT_PRODUCT, product_rows)
    _upsert_both(connection, product_rows, detail_rows)
    # An evicted product is no longer stored, so it is no longer done.
    connection.execute(_UNDONE_EVICTED)
    upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
    return len(product_rows)


def _save_records(
    connection: sqlite3.Connection,
    records: RecordTable,
    rows: list[Row],
    done_rows: list[Row],
) -> int:
    upsert_at_once(connection, records.name, records.column_names, rows)
    upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
    return len(rows)


def _upsert_both(
    connection: sqlite3.Connection, product_rows: list[Row], detail_rows: list[Row]
) -> None:
    upsert_at_once(connection, "products", PRODUCT_COLUMNS, product_rows)
    upsert_at_once(connection, "product_details", DETAIL_COLUMNS, detail_rows)
