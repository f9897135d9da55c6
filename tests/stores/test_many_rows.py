"""Upserting many rows (`stores/sqlite/many_rows.py`): which statements a batch runs, and the
promise each update keeps for an insert to go first."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trio_crawl.stores import SqliteStore, StoreOpenError
from trio_crawl.stores.records import MATTER_RECORDS
from trio_crawl.stores.sqlite import ledger
from trio_crawl.stores.sqlite.many_rows import ManyRows, _sql, upsert_of
from trio_crawl.stores.sqlite.upserts import LEDGER_DONE_COLUMNS, _done_row

from .test_sqlite import product

NOW = "2026-12-08T01:00:00.000000+00:00"


def _statements() -> list[tuple[ManyRows, list[dict[str, Any]]]]:
    stored = product(0, 1, firmware_version="1.0")
    page = {"url": "https://example.test/list/1", "page": 1, "total": 12}
    pending = {
        "url": stored.ref.url, "page": 1, "total": 12, "page_id": 0, "index_in_page": 1,
    }  # fmt: skip
    return [
        (ledger._PAGE_LISTED, [{**page, "session_id": "s1", "updated_at": NOW}]),
        (ledger._PRODUCT_PENDING, [{**pending, "session_id": "s1", "updated_at": NOW}]),
        (upsert_of("crawl_ledger", LEDGER_DONE_COLUMNS), [_done_row(stored, "s1", NOW)]),
        (upsert_of("matter", MATTER_RECORDS.column_names), [MATTER_RECORDS.row(stored, NOW)]),
    ]


@pytest.mark.parametrize("statement, rows", _statements())
async def test_an_update_leaves_the_row_it_was_just_inserted_from_as_it_is(
    tmp_path: Path, statement: ManyRows, rows: list[dict[str, Any]]
) -> None:
    async with SqliteStore.open(tmp_path / "crawl.db"):
        pass
    update, insert = _sql(statement, len(rows))
    assert update is not None
    values = [row[name] for row in rows for name in statement.names]
    with sqlite3.connect(tmp_path / "crawl.db", isolation_level=None) as connection:
        assert connection.execute(insert, values).rowcount == len(rows)
        inserted = connection.execute(f"SELECT * FROM {statement.table}").fetchall()
        connection.execute(update, values)
        assert connection.execute(f"SELECT * FROM {statement.table}").fetchall() == inserted
    connection.close()


async def test_new_rows_are_inserted_first_and_stored_rows_updated_first(tmp_path: Path) -> None:
    # Each batch's records: the first time both statements (nothing known yet), then the one
    # that found every row last time, alone while it finds every row again.
    seen: list[str] = []

    def trace(statement: str) -> None:
        if '"matter"' in statement and "OR ROLLBACK" in statement:
            seen.append(statement.split(" OR ROLLBACK", 1)[0])

    batches = [[product(page, index) for index in range(12)] for page in range(3)]
    async with SqliteStore.open(tmp_path / "crawl.db") as store:
        store._connection.set_trace_callback(trace)  # the store's one sqlite3 connection
        runs = []
        for batch in [*batches, batches[0], batches[1]]:
            seen.clear()
            assert await store.save_products(batch) == 12
            runs.append(list(seen))
        store._connection.set_trace_callback(None)
        rows = await store.fetch_products()
    assert runs == [
        ["UPDATE", "INSERT"],  # new rows, nothing known: the update finds none
        ["INSERT"],  # new again: inserted, nothing left to update
        ["INSERT"],
        ["INSERT", "UPDATE"],  # stored ones: the insert finds none
        ["UPDATE"],
    ]
    assert len(rows) == 36
    again = {row["url"] for row in rows if row["updated_at"] != row["created_at"]}
    assert again == {p.url for p in [*batches[0], *batches[1]]}


async def test_an_sqlite_library_without_update_from_is_refused_at_opening_not_at_the_first_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python's sqlite3 reports the library it was linked with; a Python built against an older
    # one (Ubuntu 20.04's 3.31, say) would store nothing and fail mid-crawl on `UPDATE … FROM`.
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    path = tmp_path / "crawl.db"
    with pytest.raises(StoreOpenError) as caught:
        async with SqliteStore.open(path):
            pass
    assert "3.31.1" in str(caught.value) and "3.33.0 or newer" in str(caught.value)
    assert not path.exists()
