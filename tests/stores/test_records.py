"""Any site's records in SQLite: typed columns from the attrs fields, idempotent upserts."""

from __future__ import annotations

import datetime
import decimal
import json
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

from trio_crawl.sites import Found, Record
from trio_crawl.stores import RecordTable, SqliteStore, StoreOpenError


@attrs.frozen
class Author:
    name: str
    born: int | None = None


@attrs.frozen
class Everything:
    title: str
    pages: int | None
    price: float
    exact: decimal.Decimal
    in_print: bool
    published: datetime.date | None
    tags: list[str]
    author: Author
    url: str  # the store has its own url column: kept as record_url
    order: int = 0  # an SQL keyword as a column name


def record(n: int, **changes: Any) -> Record[Everything]:
    data = Everything(
        title=f"Book {n}", pages=100 + n, price=9.5, exact=decimal.Decimal("12.30"),
        in_print=n % 2 == 0, published=datetime.date(2020, 1, n + 1), tags=["a", "b"],
        author=Author("Zoë", 1970), url=f"http://x.test/redirected/{n}", order=n,
    )  # fmt: skip
    found = Found(f"http://x.test/item/{n}/", {"price": "£9.50"}, n // 10, n % 10, f"id{n}")
    return Record(found, attrs.evolve(data, **changes))


def columns(path: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        found = {row[1]: row[2] for row in db.execute(f'PRAGMA table_info("{table}")')}
    db.close()
    return found


def test_columns_are_typed_from_the_fields() -> None:
    table = RecordTable("shelf", Everything)
    assert {c.name: (c.sql_type, c.as_json) for c in table.columns} == {
        "title": ("TEXT", False), "pages": ("INTEGER", False), "price": ("REAL", False),
        "exact": ("TEXT", False), "in_print": ("BOOLEAN", False),
        "published": ("TEXT", False), "tags": ("TEXT", True), "author": ("TEXT", True),
        "record_url": ("TEXT", False), "order": ("INTEGER", False),
    }  # fmt: skip


async def test_records_are_stored_in_their_own_table_and_upserted_by_url(tmp_path: Path) -> None:
    path = tmp_path / "shelf.db"
    table = RecordTable("shelf", Everything)
    async with SqliteStore.open(path, records=table, per_page=10) as store:
        assert await store.save_products([record(1), record(2)]) == 2
        assert await store.save_products([record(1, title="Book one, revised")]) == 1
        assert await store.count_products() == 2
        assert await store.newest_position() == 2
        assert len((await store.view()).done) == 2
    assert columns(path, "shelf")["pages"] == "INTEGER"
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM shelf ORDER BY url")]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "matter" not in tables  # the Matter catalogue's table is not made for another site
    first = rows[0]
    assert first["title"] == "Book one, revised"
    numbers = (first["pages"], first["price"], first["exact"], first["in_print"])
    assert numbers == (101, 9.5, "12.30", 0)
    assert first["published"] == "2020-01-02"
    assert json.loads(first["tags"]) == ["a", "b"]
    assert json.loads(first["author"]) == {"born": 1970, "name": "Zoë"}
    assert first["record_url"] == "http://x.test/redirected/1"
    assert json.loads(first["card"]) == {"price": "£9.50"}
    assert (first["url"], first["page_id"], first["index_in_page"], first["id"]) == (
        "http://x.test/item/1/", 0, 1, "id1",
    )  # fmt: skip
    assert first["created_at"] <= first["updated_at"]


async def test_a_table_of_another_record_type_is_refused(tmp_path: Path) -> None:
    @attrs.frozen
    class Other:
        name: str

    path = tmp_path / "shelf.db"
    async with SqliteStore.open(path, records=RecordTable("shelf", Everything)):
        pass
    with pytest.raises(StoreOpenError, match="table shelf does not fit Other"):
        async with SqliteStore.open(path, records=RecordTable("shelf", Other)):
            pass


@pytest.mark.parametrize("name", ["Books", "9lives", "products", "crawl_ledger", "a-b", ""])
def test_a_site_name_that_cannot_be_a_table_is_refused(name: str) -> None:
    with pytest.raises(ValueError):
        RecordTable(name, Everything)


def test_a_record_type_must_be_an_attrs_class() -> None:
    with pytest.raises(TypeError, match="not an attrs class"):
        RecordTable("shelf", dict)
