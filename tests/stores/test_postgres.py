"""What only the PostgreSQL store has: its schema mark (a table, not a file header), other
tables beside ours, set-up by many processes at once, connection errors, PostgreSQL's types in
a site's record table, and concurrent writers that lock rows in one order."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import attrs
import psycopg
import pytest
import trio

from trio_crawl.sites.records import Found, Record
from trio_crawl.stores import StoreOpenError, open_store
from trio_crawl.stores.records import RecordTable
from trio_crawl.ui.web.database import DatabaseView

from ..postgres_server import PASSWORD, PostgresServer
from .test_sqlite import page


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def tables(url: str) -> list[str]:
    return sorted(
        name
        for (name,) in sql(
            url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    )


COLUMNS = (
    "SELECT * FROM information_schema.columns WHERE table_schema = 'public'"
    " ORDER BY table_name, column_name"
)


async def opened(url: str) -> None:
    async with open_store(url):
        pass


def _foreign(url: str) -> None:
    sql(url, "CREATE TABLE trio_crawl_schema (id INTEGER, application TEXT, version INTEGER)")
    sql(url, "INSERT INTO trio_crawl_schema VALUES (1, 'somebody-else', 1)")


def _newer(url: str) -> None:
    sql(url, "UPDATE trio_crawl_schema SET version = 99")


def _ours_unmarked(url: str) -> None:
    sql(url, "CREATE TABLE crawl_runs (session_id TEXT)")


def _damaged(url: str) -> None:
    sql(url, "ALTER TABLE crawl_ledger DROP COLUMN attempts")


@pytest.mark.parametrize(
    ("make", "opened_first", "says"),
    [
        (_foreign, False, "belongs to another program"),
        (_newer, True, "upgrade trio_crawl"),
        (_ours_unmarked, False, "is not a trio_crawl database"),
        (_damaged, True, "damaged trio_crawl database (table crawl_ledger lacks attempts)"),
    ],
    ids=["another-program", "newer-version", "our-names-unmarked", "damaged"],
)
async def test_a_database_that_is_not_ours_is_refused_and_left_as_it_was(
    pg_url: str, make: Any, opened_first: bool, says: str
) -> None:
    if opened_first:
        await opened(pg_url)
    make(pg_url)
    before = (tables(pg_url), sql(pg_url, COLUMNS))

    with pytest.raises(StoreOpenError) as raised:
        await opened(pg_url)

    assert says in str(raised.value)
    assert PASSWORD not in str(raised.value)
    after = (tables(pg_url), sql(pg_url, COLUMNS))
    assert after == before


async def test_other_tables_may_live_beside_ours_and_are_left_alone(pg_url: str) -> None:
    sql(pg_url, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total NUMERIC)")
    sql(pg_url, "INSERT INTO invoices VALUES (1, 9.5)")
    async with open_store(pg_url) as store:
        await store.save_products(page(0))
    assert tables(pg_url) == sorted(
        ["catalogue_shape", "crawl_ledger", "crawl_runs", "invoices", "matter", "trio_crawl_schema"]
    )
    assert sql(pg_url, "SELECT id, total::text FROM invoices") == [(1, "9.5")]
    assert sql(pg_url, "SELECT application, version FROM trio_crawl_schema") == [("trio_crawl", 4)]


async def test_many_processes_setting_up_one_new_database_at_once_all_succeed(
    pg_url: str,
) -> None:
    # (Without the advisory lock, concurrent CREATE TABLEs collide in the catalogue.)
    errors: list[BaseException] = []

    async def one() -> None:
        try:
            async with open_store(pg_url) as store:
                await store.save_products(page(1))
        except BaseException as exc:  # collected, so that every opener runs
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(one)
    assert errors == []
    assert sql(pg_url, "SELECT COUNT(*) FROM matter") == [(12,)]


async def test_writers_saving_overlapping_batches_in_different_orders_never_deadlock(
    pg_url: str,
) -> None:
    # Rows go in url order, so two transactions never wait for each other in a cycle (a
    # deadlock would surface as database_busy from one of the saves).
    products = [item for page_id in range(10) for item in page(page_id)]
    orders = [
        products,
        products[::-1],
        products[60:] + products[:60],
        products[::2] + products[1::2],
    ]
    async with contextlib.AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(open_store(pg_url)) for _ in orders]
        for round_ in range(8):
            async with trio.open_nursery() as nursery:
                for store, order in zip(stores, orders, strict=True):
                    nursery.start_soon(store.save_done, order, f"w{round_}")
        assert await stores[0].count_products() == 120


@attrs.frozen
class Reading:
    """A record with every scalar kind a record table types."""

    url: str
    station: str
    celsius: float | None = None
    count: int | None = None
    calibrated: bool | None = None
    taken_on: datetime.date | None = None
    tags: list[str] = attrs.Factory(list)


async def test_a_sites_record_table_gets_postgresqls_own_types(pg_url: str) -> None:
    table = RecordTable("weather", Reading)
    ref = Found("https://x.test/r/1", {"station": "north"}, 0, 0, "p0000i00")
    record = Record(ref, Reading("https://x.test/r/1", "north", 21.5, 3, True,
                                 datetime.date(2026, 12, 7), ["a", "b"]))  # fmt: skip
    async with open_store(pg_url, records=table) as store:
        assert await store.save_products([record]) == 1
        [row] = await store.fetch_products()
    types = dict(
        sql(
            pg_url,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'weather'",
        )
    )
    assert {name: types[name] for name in ("celsius", "count", "calibrated", "tags")} == {
        "celsius": "double precision",
        "count": "bigint",
        "calibrated": "boolean",
        "tags": "text",
    }
    assert (row["celsius"], row["count"], row["calibrated"], row["taken_on"], row["tags"]) == (
        21.5, 3, True, "2026-12-07", '["a", "b"]',
    )  # fmt: skip


async def test_the_database_page_reads_a_postgresql_database(pg_url: str) -> None:
    async with open_store(pg_url) as store:
        await store.save_products(page(0))
    data = await DatabaseView(pg_url).read()
    assert data["database"]["products"]["done"] == 12
    assert data["database"]["db"] == pg_url.replace(f":{PASSWORD}@", "@")
    assert PASSWORD not in str(data)


async def test_opening_refuses_a_wrong_password_and_a_missing_server_in_one_line(
    pg_server: PostgresServer,
) -> None:
    for db, says in [
        (pg_server.url(password="wrong"), "refused the user name or password"),
        (f"postgresql://trio:{PASSWORD}@127.0.0.1:1/x", "no server answers there"),
    ]:
        with pytest.raises(StoreOpenError) as raised:
            await opened(db)
        message = str(raised.value)
        assert says in message and PASSWORD not in message and "wrong" not in message
        assert "\n" not in message
