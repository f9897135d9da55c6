"""A database of schema version 3, where the Matter catalogue had tables of its own (`products`,
`product_details`), is upgraded when a crawl opens it: its products become records of the
`matter` table like any site's, with their positions, listing marks and timestamps.

The file is built from `data/matter_v3.sql`, the dump of a database trio_crawl wrote at
f474e39 (the last version with those tables): see `data/README.md`.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from trio_crawl.stores import SqliteStore, StoreOpenError, export_products, read_status, schema

DUMP = Path(__file__).with_name("data") / "matter_v3.sql"


def version_3_file(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(DUMP.read_text())
    return path


def table(path: Path, query: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(path)) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(query)]


async def test_opening_a_version_3_file_copies_every_product_into_the_matter_table(
    tmp_path: Path,
) -> None:
    path = version_3_file(tmp_path / "matter.db")
    products = {row["url"]: row for row in table(path, "SELECT * FROM products")}
    details = {row["url"]: row for row in table(path, "SELECT * FROM product_details")}
    ledger = table(path, "SELECT * FROM crawl_ledger ORDER BY url")
    assert len(products) == 14 and sum(r["delisted_at"] is not None for r in products.values()) == 1

    async with SqliteStore.open(path) as store:
        rows = {row["url"]: row for row in await store.fetch_products()}
        view = await store.view()
        assert await store.newest_position() == 13

    assert rows.keys() == products.keys()
    for url, row in rows.items():
        product, detail = products[url], details[url]
        for column in (
            "page_id", "index_in_page", "id", "created_at", "updated_at", "listed_at",
            "delisted_at",
        ):  # fmt: skip
            assert row[column] == product[column], (url, column)
        assert json.loads(row["card"]) == {
            "manufacturer": product["manufacturer"],
            "model": product["model"],
            "certificate_id": product["certificate_id"],
        }
        for column in ("model", "manufacturer", "device_type", "firmware_version", "vid", "pid"):
            assert row[column] == detail[column], (url, column)
        assert row["record_url"] == url
    delisted = [url for url, row in rows.items() if row["delisted_at"] is not None]
    assert delisted == ["https://matter.test/csa_product/p05/"]
    # The ledger is untouched, and sees the delisted product stored but not listed.
    assert table(path, "SELECT * FROM crawl_ledger ORDER BY url") == ledger
    assert view.stored == products.keys() and len(view.done) == 13
    assert (5 // 12, 5 % 12) not in view.done
    names = {row["name"] for row in table(path, "SELECT name FROM sqlite_master")}
    assert not names & {"products", "product_details"}
    assert table(path, "SELECT record_table FROM catalogue_shape") == [{"record_table": "matter"}]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


async def test_status_and_export_ask_for_the_upgrade_then_read_the_upgraded_file(
    tmp_path: Path,
) -> None:
    path = version_3_file(tmp_path / "matter.db")
    with pytest.raises(StoreOpenError, match="crawl into it once"):
        read_status(path)
    with pytest.raises(StoreOpenError, match="crawl into it once"):
        export_products(path, "jsonl", io.StringIO())
    async with SqliteStore.open(path):
        pass
    status = read_status(path)
    assert (status.products_done, status.products_delisted, status.products_left) == (13, 1, 1)
    out = io.StringIO()
    assert export_products(path, "jsonl", out) == 14
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["page_id"], r["index_in_page"]) for r in records] == [
        divmod(i, 12) for i in range(14)
    ]
    assert [r["url"] for r in records if r["delisted_at"]] == [
        "https://matter.test/csa_product/p05/"
    ]
