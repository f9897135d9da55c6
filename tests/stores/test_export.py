"""Export of stored Matter products (the `matter` record table) to JSON Lines and CSV."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trio_crawl.sites.records import Product, ProductDetail, ProductRef
from trio_crawl.stores import SqliteStore, StoreOpenError, export_products
from trio_crawl.stores.records import MATTER_RECORDS

EXPORT_COLUMNS = MATTER_RECORDS.column_names


def product(page_id: int, index_in_page: int, **detail: Any) -> Product:
    url = f"https://example.test/csa_product/p{page_id}-{index_in_page}/"
    ref = ProductRef(
        url=url,
        manufacturer=f"Maker {page_id}",
        model=f"Model {page_id}.{index_in_page}",
        certificate_id=f"CSA{page_id:05d}MAT{index_in_page:05d}-24",
        page_id=page_id,
        index_in_page=index_in_page,
        id=f"p{page_id:04d}i{index_in_page:02d}",
    )
    return Product(ref=ref, detail=ProductDetail(url=url, **detail))


STORED = [
    product(1, 0, model='Bulb, "E27"', manufacturer="Ünïcode GmbH", vid=0x131B, pid=2),
    product(0, 11, device_type="Light", vid=4891, pid=None, firmware_version="1.2\nbeta"),
    product(0, 3),
]


async def stored(tmp_path: Path) -> Path:
    """A database holding STORED. (A helper, not an async fixture: pytest-trio 0.8's async
    fixtures trip an assertion in pytest 9's fixture teardown.)"""
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path) as store:
        await store.save_products(STORED)
    return path


def export(path: Path, fmt: Any) -> tuple[int, str]:
    out = io.StringIO(newline="")
    count = export_products(path, fmt, out)
    return count, out.getvalue()


async def test_jsonl_has_one_typed_object_a_line_in_position_order(tmp_path: Path) -> None:
    db_path = await stored(tmp_path)
    count, text = export(db_path, "jsonl")
    records = [json.loads(line) for line in text.splitlines()]
    assert count == len(records) == 3
    assert [(r["page_id"], r["index_in_page"]) for r in records] == [(0, 3), (0, 11), (1, 0)]
    assert all(list(record) == list(EXPORT_COLUMNS) for record in records)
    oldest, middle, newest = records
    assert oldest["vid"] is None and oldest["model"] is None
    assert oldest["card"] == {
        "manufacturer": "Maker 0",
        "model": "Model 0.3",
        "certificate_id": "CSA00000MAT00003-24",
    }
    assert middle["vid"] == 4891 and middle["pid"] is None
    assert middle["firmware_version"] == "1.2\nbeta"
    assert middle["device_type"] == "Light"
    assert newest["vid"] == 0x131B and isinstance(newest["pid"], int)
    assert newest["model"] == 'Bulb, "E27"'
    assert newest["card"]["model"] == "Model 1.0"
    assert newest["manufacturer"] == "Ünïcode GmbH"
    assert newest["card"]["manufacturer"] == "Maker 1"
    assert newest["id"] == "p0001i00"
    assert newest["created_at"].endswith("+00:00")
    assert newest["listed_at"] is not None and newest["delisted_at"] is None


async def test_csv_has_a_header_and_one_row_a_product(tmp_path: Path) -> None:
    db_path = await stored(tmp_path)
    count, text = export(db_path, "csv")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert count == len(rows) == 3
    assert reader.fieldnames == list(EXPORT_COLUMNS)
    assert [(int(r["page_id"]), int(r["index_in_page"])) for r in rows] == [(0, 3), (0, 11), (1, 0)]
    oldest, middle, newest = rows
    assert oldest["vid"] == "" and oldest["device_type"] == ""
    assert int(middle["vid"]) == 4891 and middle["pid"] == ""
    assert middle["firmware_version"] == "1.2\nbeta"
    assert int(newest["vid"]) == 0x131B and int(newest["pid"]) == 2
    assert newest["model"] == 'Bulb, "E27"' and json.loads(newest["card"])["model"] == "Model 1.0"
    assert newest["manufacturer"] == "Ünïcode GmbH"
    assert json.loads(newest["card"])["manufacturer"] == "Maker 1"
    assert oldest["model"] == "" and json.loads(oldest["card"])["model"] == "Model 0.3"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_the_list_cards_fields_are_the_card_and_the_detail_pages_are_columns(
    tmp_path: Path, fmt: str
) -> None:
    differing = product(0, 1, model="Detail model", certificate_id="CSA-DETAIL")
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path) as store:
        await store.save_products([differing])
    _, text = export(path, fmt)
    if fmt == "jsonl":
        (record,) = [json.loads(line) for line in text.splitlines()]
        card = record["card"]
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        assert reader.fieldnames is not None
        assert len(reader.fieldnames) == len(set(reader.fieldnames))
        (record,) = list(reader)
        card = json.loads(record["card"])
    assert record["model"] == "Detail model" and record["certificate_id"] == "CSA-DETAIL"
    assert card == {
        "manufacturer": "Maker 0",
        "model": "Model 0.1",
        "certificate_id": differing.ref.certificate_id,
    }


async def test_export_reads_while_the_store_is_open(tmp_path: Path) -> None:
    db_path = await stored(tmp_path)
    async with SqliteStore.open(db_path) as store:
        await store.save_products([product(2, 0)])
        count, _ = export(db_path, "jsonl")
    assert count == 4


async def test_an_empty_database_exports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    async with SqliteStore.open(path):
        pass
    assert export(path, "jsonl") == (0, "")
    count, text = export(path, "csv")
    assert count == 0
    assert text.splitlines() == [",".join(EXPORT_COLUMNS)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(FileNotFoundError) as caught:
        export(path, fmt)
    assert caught.value.filename == str(path)
    assert not path.exists()


async def test_an_unknown_format_is_rejected(tmp_path: Path) -> None:
    db_path = await stored(tmp_path)
    with pytest.raises(ValueError, match="xml"):
        export(db_path, "xml")


def test_a_database_without_products_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE unrelated (x)")
    connection.commit()
    connection.close()
    with pytest.raises(StoreOpenError, match="no table products"):
        export(path, "jsonl")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"just some text, not a database\n" * 10, "is not an SQLite database"),
        (b"", "is empty, not a trio_crawl database"),
    ],
)
def test_a_file_that_is_not_a_trio_crawl_database_is_refused_unchanged(
    tmp_path: Path, content: bytes, named: str
) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(StoreOpenError, match=named) as caught:
        export(path, "csv")
    assert caught.value.path == str(path)
    assert path.read_bytes() == content


async def test_paths_with_uri_special_characters_export(tmp_path: Path) -> None:
    path = tmp_path / "odd dir %20 #1?" / "matter.db"
    path.parent.mkdir()
    async with SqliteStore.open(path) as store:
        await store.save_products([product(0, 0)])
    assert export(path, "jsonl")[0] == 1
