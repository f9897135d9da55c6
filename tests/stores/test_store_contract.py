"""What every store backend promises (the `backend` fixture runs each test on SQLite and on
PostgreSQL): idempotent upserts, positions, crawl runs, errors, typed round trips. What only an
SQLite file has (its header marks, WAL, locks, the file under it) is in test_sqlite.py."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import attrs
import psycopg
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.records import Product, ProductDetail
from trio_crawl.stores import Store
from trio_crawl.stores.ledger import Ledger
from trio_crawl.stores.protocol import RunHeartbeat

from ..backends import Backend
from .test_sqlite import page, product

# PostgreSQL's text cannot hold NUL (such a value fails to save there, as `database_error`).
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
_optional_text = st.none() | _text
_optional_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
_DETAIL_FIELDS = [field.name for field in attrs.fields(ProductDetail) if field.name != "url"]


@st.composite
def details(draw: st.DrawFn) -> ProductDetail:
    values: dict[str, Any] = {
        name: draw(_optional_int if name in ("vid", "pid") else _optional_text)
        for name in _DETAIL_FIELDS
    }
    return ProductDetail(url="https://example.test/csa_product/x/", **values)


async def test_reopening_keeps_stored_products(backend: Backend) -> None:
    async with backend.open() as store:
        await store.save_products(page(0))
    async with backend.open() as store:
        assert await store.count_products() == 12


async def test_the_store_satisfies_the_store_protocols(backend: Backend) -> None:
    async with backend.open() as opened:
        store: Store = opened  # checked by mypy
        assert isinstance(opened, Ledger)
        assert isinstance(opened, RunHeartbeat)
        assert await store.newest_position() is None


async def test_store_is_closed_on_exit_even_when_cancelled(backend: Backend) -> None:
    with trio.CancelScope() as scope:
        async with backend.open() as store:
            scope.cancel()
            await trio.sleep_forever()
    with pytest.raises(StageError) as caught:
        await store.count_products()
    assert caught.value.kind is ErrorKind.database_error


async def test_saving_twice_keeps_one_row_each_and_refreshes_updated_at(backend: Backend) -> None:
    async with backend.open() as store:
        assert await store.save_products(page(3)) == 12
        first = {row["url"]: row for row in await store.fetch_products()}
        assert await store.save_products(page(3)) == 12
        second = {row["url"]: row for row in await store.fetch_products()}
        assert await store.count_products() == 12
    assert first.keys() == second.keys()
    for url, row in second.items():
        assert row["created_at"] == first[url]["created_at"]
        assert row["updated_at"] > first[url]["updated_at"]
        assert row["created_at"].endswith("+00:00")


async def test_saving_again_updates_changed_fields(backend: Backend) -> None:
    async with backend.open() as store:
        await store.save_products([product(0, 0, firmware_version="1.0", vid=1)])
        await store.save_products([product(0, 0, firmware_version="1.1", vid=None)])
        [row] = await store.fetch_products()
    assert row["firmware_version"] == "1.1"
    assert row["vid"] is None


async def test_saving_an_empty_batch_writes_nothing(backend: Backend) -> None:
    async with backend.open() as store:
        assert await store.save_products([]) == 0
        assert await store.count_products() == 0


async def test_a_new_url_at_a_stored_position_keeps_the_old_product(backend: Backend) -> None:
    # A product is never deleted: only a complete listing (`relist`) says it is delisted.
    async with backend.open() as store:
        await store.save_products(page(5))
        newcomer = product(5, 7, url="https://example.test/csa_product/newcomer/")
        assert await store.save_products([newcomer, product(6, 0)]) == 2
        rows = await store.fetch_products()
    at_5_7 = [row["url"] for row in rows if (row["page_id"], row["index_in_page"]) == (5, 7)]
    assert sorted(at_5_7) == sorted([newcomer.ref.url, product(5, 7).ref.url])
    assert len(rows) == 14


async def test_products_that_swap_positions_keep_their_rows(backend: Backend) -> None:
    a, b = (
        product(0, 0, url="https://example.test/a/"),
        product(0, 1, url="https://example.test/b/"),
    )
    async with backend.open() as store:
        await store.save_products([a, b])
        before = {row["url"]: row["created_at"] for row in await store.fetch_products()}
        moved_a = attrs.evolve(a, ref=attrs.evolve(a.ref, index_in_page=1))
        moved_b = attrs.evolve(b, ref=attrs.evolve(b.ref, index_in_page=0))
        assert await store.save_products([moved_a, moved_b]) == 2
        rows = await store.fetch_products()
    assert [(row["url"], row["index_in_page"]) for row in rows] == [(b.ref.url, 0), (a.ref.url, 1)]
    assert {row["url"]: row["created_at"] for row in rows} == before


async def test_a_stored_product_moving_onto_an_occupied_position_keeps_the_occupant(
    backend: Backend,
) -> None:
    async with backend.open() as store:
        await store.save_products(page(0))
        mover = product(0, 0)
        moved = attrs.evolve(mover, ref=attrs.evolve(mover.ref, index_in_page=5))
        await store.save_products([moved])
        rows = await store.fetch_products()
    assert len(rows) == 12
    assert sorted(row["url"] for row in rows if row["index_in_page"] == 5) == sorted(
        [mover.ref.url, product(0, 5).ref.url]
    )
    assert not [row for row in rows if row["index_in_page"] == 0]


async def test_duplicates_inside_one_batch_are_written_once(backend: Backend) -> None:
    async with backend.open() as store:
        written = await store.save_products(
            [product(0, 0, firmware_version="old"), product(0, 0, firmware_version="new")]
        )
        rows = await store.fetch_products()
    assert written == 1
    assert [row["firmware_version"] for row in rows] == ["new"]


async def test_a_failing_batch_is_rolled_back_whole(backend: Backend) -> None:
    # A ref without an id breaks NOT NULL: a database failure in the batch's 2nd row.
    broken_ref = attrs.evolve(product(0, 1).ref, id=None)  # type: ignore[arg-type]
    broken = attrs.evolve(product(0, 1), ref=broken_ref)
    async with backend.open() as store:
        await store.save_products([product(9, 0)])
        with pytest.raises(StageError) as caught:
            await store.save_products([product(0, 0), broken])
        assert caught.value.kind is ErrorKind.database_error
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError | psycopg.IntegrityError)
        assert [row["page_id"] for row in await store.fetch_products()] == [9]
        # The connection is usable again (no transaction left open).
        assert await store.save_products([product(0, 0)]) == 1


async def test_newest_position_is_none_when_empty_then_the_highest_position(
    backend: Backend,
) -> None:
    async with backend.open() as store:
        assert await store.newest_position() is None
        await store.save_products([*page(0), *page(1)[:4]])
        assert await store.newest_position() == 1 * 12 + 3
        await store.save_products([product(0, 11)])  # an older product does not move it
        assert await store.newest_position() == 15


async def test_newest_position_uses_the_configured_page_size(backend: Backend) -> None:
    async with backend.open(per_page=20) as store:
        await store.save_products([product(2, 3)])
        assert await store.newest_position() == 2 * 20 + 3


async def test_crawl_run_lifecycle_is_recorded(backend: Backend) -> None:
    async with backend.open() as store:
        await store.start_run("s1", {"crawl": {"strategy": "full"}, "a": 1})
        [started] = await store.runs()
        assert started["status"] == "running"
        assert started["finished_at"] is None
        assert started["config_json"] == '{"a": 1, "crawl": {"strategy": "full"}}'
        await store.finish_run(
            "s1",
            "partial",
            {"pages_ok": 9, "products_saved": 100, "products_failed": 8},
            error={"kind": "database_busy", "message": "locked"},
        )
        await store.start_run("s2", {})
        await store.finish_run("s2", "completed", {})
        first, second = await store.runs()
    assert first["session_id"] == "s1"
    assert (first["status"], first["pages_ok"], first["pages_failed"]) == ("partial", 9, 0)
    assert (first["products_saved"], first["products_failed"]) == (100, 8)
    assert first["error_json"] == '{"kind": "database_busy", "message": "locked"}'
    assert first["started_at"] <= first["finished_at"]
    assert (second["session_id"], second["status"], second["error_json"]) == (
        "s2",
        "completed",
        None,
    )
    assert second["pages_ok"] == second["products_saved"] == 0


async def test_finishing_an_unknown_run_is_a_database_error(backend: Backend) -> None:
    async with backend.open() as store:
        with pytest.raises(StageError) as caught:
            await store.finish_run("never-started", "completed", {})
    assert caught.value.kind is ErrorKind.database_error


async def test_starting_the_same_run_twice_is_a_database_error(backend: Backend) -> None:
    async with backend.open() as store:
        await store.start_run("s1", {})
        with pytest.raises(StageError) as caught:
            await store.start_run("s1", {})
    assert caught.value.kind is ErrorKind.database_error


async def test_a_closed_store_fails_with_database_error(backend: Backend) -> None:
    async with backend.open() as store:
        pass
    with pytest.raises(StageError) as caught:
        await store.save_products(page(0))
    assert caught.value.kind is ErrorKind.database_error


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(detail=details(), page_id=st.integers(0, 10_000), index_in_page=st.integers(0, 11))
async def test_product_detail_fields_round_trip_through_save_and_fetch(
    backend: Backend, detail: ProductDetail, page_id: int, index_in_page: int
) -> None:
    # (One database for every example: the url is the same, so each save replaces the row.)
    ref = attrs.evolve(product(page_id, index_in_page).ref, url=detail.url)
    async with backend.open() as store:
        await store.save_products([Product(ref=ref, detail=detail)])
        [row] = await store.fetch_products()
    fetched = ProductDetail(url=row["record_url"], **{name: row[name] for name in _DETAIL_FIELDS})
    assert fetched == detail
    assert (row["page_id"], row["index_in_page"], row["id"]) == (page_id, index_in_page, ref.id)
    assert json.loads(row["card"]) == {
        "manufacturer": ref.manufacturer,
        "model": ref.model,
        "certificate_id": ref.certificate_id,
    }
