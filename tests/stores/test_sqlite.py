"""The SQLite store: schema, idempotent upserts, positions, crawl runs, errors, threads."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.records import Product, ProductDetail, ProductRef
from trio_crawl.stores import SqliteStore, Store, StoreOpenError, schema
from trio_crawl.stores.sqlite import latest_per_url_and_position, map_sqlite_errors
from trio_crawl.stores.sqlite import opening as sqlite_module

DESIGN_COLUMNS = {
    # The Matter catalogue's record table (`stores.records`, schema version 4): the store's own
    # columns, the list card as JSON, a column per field of `ProductDetail` (its `url`, the
    # detail page's, as `record_url`), the timestamps and the listing marks.
    "matter": [
        "url", "page_id", "index_in_page", "id", "card", "record_url", "model", "manufacturer",
        "device_type", "certificate_id", "certification_date", "software_version",
        "hardware_version", "firmware_version", "specification_version", "vid", "pid",
        "family_sku", "family_variant_sku", "family_id", "tis_trp_tested", "transport_interface",
        "primary_device_type_id", "program_type", "created_at", "updated_at", "listed_at",
        "delisted_at",
    ],
    "crawl_runs": [
        "session_id", "status", "started_at", "finished_at", "pages_ok", "pages_failed",
        "products_saved", "products_failed", "config_json", "error_json",
        # Not in docs/architecture.md §6: what tells a run whose process is gone (schema version 2).
        "pid", "host", "heartbeat_at",
        # Not in docs/architecture.md §6: what a stop cancelled, apart from what failed (version 3).
        "pages_cancelled", "products_cancelled",
    ],
    # The crawl ledger (schema version 2).
    "crawl_ledger": [
        "url", "item", "page", "total", "page_id", "index_in_page", "state", "stage",
        "error_kind", "attempts", "last_error", "session_id", "updated_at",
    ],
    "catalogue_shape": [
        "id", "base_url", "last_page", "on_last", "per_page", "total", "session_id", "seen_at",
        "record_table", "ordering",
    ],
}  # fmt: skip


def product(page_id: int, index_in_page: int, *, url: str | None = None, **detail: Any) -> Product:
    url = url or f"https://example.test/csa_product/p{page_id}-{index_in_page}/"
    ref = ProductRef(
        url=url,
        manufacturer=f"Maker {page_id}",
        model=f"Model {page_id}.{index_in_page}",
        certificate_id=f"CSA{page_id:05d}MAT{index_in_page:05d}-24",
        page_id=page_id,
        index_in_page=index_in_page,
        id=f"p{page_id:04d}i{index_in_page:02d}",
    )
    fields: dict[str, Any] = {"model": ref.model, "manufacturer": ref.manufacturer, "vid": 4891}
    fields.update(detail)
    return Product(ref=ref, detail=ProductDetail(url=url, **fields))


def page(page_id: int, per_page: int = 12) -> list[Product]:
    return [product(page_id, index) for index in range(per_page)]


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer, as far as the store can tell: a second connection in
    BEGIN IMMEDIATE holds the database's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
        if other.in_transaction:
            other.execute("ROLLBACK")
    finally:
        other.close()


def table_columns(path: Path, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, primary-key position) for each column, in order."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(f"PRAGMA table_info({table})").fetchall()
    connection.close()
    return [(row[1], row[2], row[5]) for row in rows]


def unique_indexes(path: Path, table: str) -> list[list[str]]:
    connection = sqlite3.connect(path)
    try:
        result = []
        for index in connection.execute(f"PRAGMA index_list({table})"):
            name, unique = index[1], index[2]
            if unique:
                info = connection.execute(f"PRAGMA index_info({name})").fetchall()
                result.append([column[2] for column in info])
        return result
    finally:
        connection.close()


# -- schema and setup ----------------------------------------------------------------------


async def test_open_creates_the_file_with_exactly_the_design_schema(tmp_path: Path) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path):
        pass
    assert path.is_file()
    for table, expected in DESIGN_COLUMNS.items():
        assert [name for name, _, _ in table_columns(path, table)] == expected
    products = {name: (kind, pk) for name, kind, pk in table_columns(path, "matter")}
    runs = {name: (kind, pk) for name, kind, pk in table_columns(path, "crawl_runs")}
    assert products["url"] == ("TEXT", 1)
    assert runs["session_id"] == ("TEXT", 1)
    for column in ("page_id", "index_in_page", "vid", "pid"):
        assert products[column][0] == "INTEGER"
    assert {kind for kind, _ in products.values()} == {"TEXT", "INTEGER"}
    # Matter's tables of versions 1 to 3 are gone: its products are records like any site's.
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    connection.close()
    assert not tables & {"products", "product_details"}


async def test_connection_uses_wal_normal_sync_foreign_keys_and_busy_timeout(
    tmp_path: Path,
) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path, busy_timeout_ms=1234) as store:
        pragmas = await store._run(
            lambda connection: [
                connection.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
        )
    assert pragmas == ["wal", 1, 1, 1234]  # synchronous 1 == NORMAL
    # WAL is a property of the file: a fresh connection sees it too.
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


async def test_reopening_keeps_stored_products(tmp_path: Path) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path) as store:
        await store.save_products(page(0))
    async with SqliteStore.open(path) as store:
        assert await store.count_products() == 12


@pytest.mark.parametrize(
    "arguments", [{"busy_timeout_ms": -1}, {"per_page": 0}], ids=["busy_timeout", "per_page"]
)
async def test_open_rejects_nonsense_arguments(tmp_path: Path, arguments: Any) -> None:
    with pytest.raises(ValueError):
        async with SqliteStore.open(tmp_path / "matter.db", **arguments):
            pass
    assert not (tmp_path / "matter.db").exists()


async def test_sqlite_store_satisfies_the_store_protocol(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as sqlite_store:
        store: Store = sqlite_store  # checked by mypy
        assert await store.newest_position() is None


async def test_store_is_closed_on_exit_even_when_cancelled(tmp_path: Path) -> None:
    with trio.CancelScope() as scope:
        async with SqliteStore.open(tmp_path / "matter.db") as store:
            scope.cancel()
            await trio.sleep_forever()
    with pytest.raises(StageError) as caught:
        await store.count_products()
    assert caught.value.kind is ErrorKind.database_error


# -- saving --------------------------------------------------------------------------------


async def test_saving_twice_keeps_one_row_each_and_refreshes_updated_at(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
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


async def test_saving_again_updates_changed_fields(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        await store.save_products([product(0, 0, firmware_version="1.0", vid=1)])
        await store.save_products([product(0, 0, firmware_version="1.1", vid=None)])
        [row] = await store.fetch_products()
    assert row["firmware_version"] == "1.1"
    assert row["vid"] is None


async def test_saving_an_empty_batch_writes_nothing(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        assert await store.save_products([]) == 0
        assert await store.count_products() == 0


async def test_a_new_url_at_a_stored_position_keeps_the_old_product(tmp_path: Path) -> None:
    # A product is never deleted: only a complete listing (`relist`) says it is delisted.
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        await store.save_products(page(5))
        newcomer = product(5, 7, url="https://example.test/csa_product/newcomer/")
        assert await store.save_products([newcomer, product(6, 0)]) == 2
        rows = await store.fetch_products()
    at_5_7 = [row["url"] for row in rows if (row["page_id"], row["index_in_page"]) == (5, 7)]
    assert sorted(at_5_7) == sorted([newcomer.ref.url, product(5, 7).ref.url])
    assert len(rows) == 14


async def test_products_that_swap_positions_keep_their_rows(tmp_path: Path) -> None:
    a, b = (
        product(0, 0, url="https://example.test/a/"),
        product(0, 1, url="https://example.test/b/"),
    )
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        await store.save_products([a, b])
        before = {row["url"]: row["created_at"] for row in await store.fetch_products()}
        moved_a = attrs.evolve(a, ref=attrs.evolve(a.ref, index_in_page=1))
        moved_b = attrs.evolve(b, ref=attrs.evolve(b.ref, index_in_page=0))
        assert await store.save_products([moved_a, moved_b]) == 2
        rows = await store.fetch_products()
    assert [(row["url"], row["index_in_page"]) for row in rows] == [(b.ref.url, 0), (a.ref.url, 1)]
    assert {row["url"]: row["created_at"] for row in rows} == before


async def test_a_stored_product_moving_onto_an_occupied_position_keeps_the_occupant(
    tmp_path: Path,
) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
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


def test_within_a_batch_the_last_product_for_a_url_or_position_wins() -> None:
    first = product(0, 0, firmware_version="old")
    same_url = product(0, 0, firmware_version="new")
    same_position = product(1, 1, url="https://example.test/x/")
    takes_position = product(1, 1, url="https://example.test/y/")
    other = product(2, 2)
    batch = [first, same_position, other, same_url, takes_position]
    assert latest_per_url_and_position(batch) == [other, same_url, takes_position]


async def test_duplicates_inside_one_batch_are_written_once(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        written = await store.save_products(
            [product(0, 0, firmware_version="old"), product(0, 0, firmware_version="new")]
        )
        rows = await store.fetch_products()
    assert written == 1
    assert [row["firmware_version"] for row in rows] == ["new"]


async def test_a_failing_batch_is_rolled_back_whole(tmp_path: Path) -> None:
    # A ref without an id breaks NOT NULL: a sqlite failure in the batch's 2nd row.
    broken_ref = attrs.evolve(product(0, 1).ref, id=None)  # type: ignore[arg-type]
    broken = attrs.evolve(product(0, 1), ref=broken_ref)
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        await store.save_products([product(9, 0)])
        with pytest.raises(StageError) as caught:
            await store.save_products([product(0, 0), broken])
        assert caught.value.kind is ErrorKind.database_error
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        assert [row["page_id"] for row in await store.fetch_products()] == [9]
        # The connection is usable again (no transaction left open).
        assert await store.save_products([product(0, 0)]) == 1


# -- positions -----------------------------------------------------------------------------


async def test_newest_position_is_none_when_empty_then_the_highest_position(
    tmp_path: Path,
) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        assert await store.newest_position() is None
        await store.save_products([*page(0), *page(1)[:4]])
        assert await store.newest_position() == 1 * 12 + 3
        await store.save_products([product(0, 11)])  # an older product does not move it
        assert await store.newest_position() == 15


async def test_newest_position_uses_the_configured_page_size(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db", per_page=20) as store:
        await store.save_products([product(2, 3)])
        assert await store.newest_position() == 2 * 20 + 3


# -- crawl runs ----------------------------------------------------------------------------


async def test_crawl_run_lifecycle_is_recorded(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
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


async def test_finishing_an_unknown_run_is_a_database_error(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        with pytest.raises(StageError) as caught:
            await store.finish_run("never-started", "completed", {})
    assert caught.value.kind is ErrorKind.database_error


async def test_starting_the_same_run_twice_is_a_database_error(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        await store.start_run("s1", {})
        with pytest.raises(StageError) as caught:
            await store.start_run("s1", {})
    assert caught.value.kind is ErrorKind.database_error


# -- errors and threads --------------------------------------------------------------------


async def test_save_under_another_writers_lock_is_database_busy_then_succeeds(
    tmp_path: Path,
) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path, busy_timeout_ms=20) as store:
        with write_lock_held(path), pytest.raises(StageError) as caught:
            await store.save_products(page(0))
        assert caught.value.kind is ErrorKind.database_busy
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert await store.count_products() == 0
        assert await store.save_products(page(0)) == 12
        assert await store.count_products() == 12


async def test_opening_a_new_file_another_writer_has_locked_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.abc.Clock
) -> None:
    # Two crawls started on one new database at once: the second must set the schema up under
    # the write lock, which the first (already writing) takes again and again. One busy
    # timeout of waiting was not always enough (seen in the two-crawls e2e test). Here the
    # other writer lets go right after the store's first try has given up.
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    attempts: list[str] = []
    connect = sqlite_module._connect

    def first_try_fails(*args: Any) -> sqlite3.Connection:
        try:
            return connect(*args)
        finally:
            attempts.append("tried")
            if other.in_transaction:
                other.execute("ROLLBACK")

    monkeypatch.setattr(sqlite_module, "_connect", first_try_fails)
    try:
        async with SqliteStore.open(path, busy_timeout_ms=20) as store:
            assert await store.save_products(page(0)) == 12
    finally:
        other.close()
    assert attempts == ["tried", "tried"]


async def test_opening_gives_up_on_a_lock_that_is_never_released(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "new.db"
    # (No trio timeout here: the autojump clock would jump to its deadline while the store's
    # thread waits on the lock.)
    with write_lock_held(path):
        started = trio.current_time()
        with pytest.raises(StoreOpenError) as caught:
            async with SqliteStore.open(path, busy_timeout_ms=20):
                pass
        waited = trio.current_time() - started
    assert sqlite_module.OPEN_BUSY_SECS - 1 <= waited <= sqlite_module.OPEN_BUSY_SECS
    assert caught.value.kind is ErrorKind.database_busy
    assert "locked" in caught.value.message


async def test_a_waiting_save_leaves_the_trio_thread_free(tmp_path: Path) -> None:
    path = tmp_path / "matter.db"
    ticks = 0
    saved = trio.Event()
    async with SqliteStore.open(path, busy_timeout_ms=10_000) as store:

        async def save() -> None:
            await store.save_products(page(0))
            saved.set()

        with write_lock_held(path) as other_writer:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(save)
                # The save waits for the lock in its worker thread; trio keeps scheduling.
                while ticks < 50:
                    await trio.sleep(0.001)
                    ticks += 1
                assert not saved.is_set()
                other_writer.execute("ROLLBACK")
                with trio.fail_after(5):
                    await saved.wait()
        assert await store.count_products() == 12
    assert ticks == 50


async def test_other_sqlite_failures_are_database_error(tmp_path: Path) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path) as store:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("DROP TABLE matter")
        connection.close()
        with pytest.raises(StageError) as caught:
            await store.save_products(page(0))
    assert caught.value.kind is ErrorKind.database_error
    assert "no such table" in caught.value.message


async def test_a_closed_store_fails_with_database_error(tmp_path: Path) -> None:
    async with SqliteStore.open(tmp_path / "matter.db") as store:
        pass
    with pytest.raises(StageError) as caught:
        await store.save_products(page(0))
    assert caught.value.kind is ErrorKind.database_error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (sqlite3.OperationalError("database is locked"), ErrorKind.database_busy),
        (sqlite3.OperationalError("database table is locked"), ErrorKind.database_busy),
        (sqlite3.OperationalError("the database is busy"), ErrorKind.database_busy),
        (sqlite3.OperationalError("no such table: products"), ErrorKind.database_error),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), ErrorKind.database_error),
        (sqlite3.DatabaseError("file is not a database"), ErrorKind.database_error),
        (
            sqlite3.ProgrammingError("Cannot operate on a closed database."),
            ErrorKind.database_error,
        ),
    ],
)
def test_sqlite_errors_map_to_busy_or_database_error(error: sqlite3.Error, kind: ErrorKind) -> None:
    with pytest.raises(StageError) as caught, map_sqlite_errors():
        raise error
    assert caught.value.kind is kind
    assert caught.value.__cause__ is error


def test_non_sqlite_errors_pass_through_the_mapping() -> None:
    with pytest.raises(KeyError), map_sqlite_errors():
        raise KeyError("not ours")


# -- which files the store will open ---------------------------------------------------------


def sqlite_file(path: Path, *statements: str) -> Path:
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return path


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def pragma(path: Path, name: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        connection.close()


async def test_a_new_database_records_the_program_and_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path):
        pass
    assert pragma(path, "application_id") == schema.APPLICATION_ID == 0x74724372
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION == 4


async def test_a_database_from_before_the_marks_is_marked_and_kept(tmp_path: Path) -> None:
    # What trio_crawl 0.1 made: the same tables, user_version 1, no application_id.
    path = sqlite_file(
        tmp_path / "old.db",
        *schema.DDL_V1,
        "PRAGMA user_version = 1",
        "INSERT INTO crawl_runs (session_id, status, started_at) VALUES ('s0', 'completed', 'x')",
    )
    async with SqliteStore.open(path) as store:
        assert [run["session_id"] for run in await store.runs()] == ["s0"]
    assert pragma(path, "application_id") == schema.APPLICATION_ID


def _foreign_program(path: Path) -> Path:
    return sqlite_file(path, "PRAGMA application_id = 42", "CREATE TABLE notes (x)")


def _other_schema(path: Path) -> Path:
    return sqlite_file(path, "CREATE TABLE products (url TEXT PRIMARY KEY, name TEXT)")


def _newer_version(path: Path) -> Path:
    return sqlite_file(
        path,
        *schema.DDL,
        f"PRAGMA application_id = {schema.APPLICATION_ID}",
        f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}",
    )


def _damaged(path: Path) -> Path:
    return sqlite_file(
        path,
        *schema.DDL,
        "DROP TABLE crawl_runs",
        f"PRAGMA application_id = {schema.APPLICATION_ID}",
        f"PRAGMA user_version = {schema.SCHEMA_VERSION}",
    )


def _not_sqlite(path: Path) -> Path:
    path.write_text("url,model\nhttps://example.test/,Plug\n" * 20)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_not_sqlite, "is not an SQLite database (file is not a database)"),
        (_foreign_program, "belongs to another program (application_id 0x0000002a)"),
        (_other_schema, "is not a trio_crawl database (table products lacks manufacturer, "),
        (_newer_version, "holds trio_crawl schema version 5, newer than this trio_crawl reads"),
        (_damaged, "is a damaged trio_crawl database (no table crawl_runs)"),
    ],
    ids=["not-sqlite", "another-program", "another-schema", "newer", "damaged"],
)
async def test_a_file_that_is_not_our_database_is_refused_and_left_exactly_as_it_was(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = make(tmp_path / "x.db")
    before = path.read_bytes()
    with pytest.raises(StoreOpenError) as caught:
        async with SqliteStore.open(path):
            pass
    assert message in caught.value.message
    assert caught.value.message.startswith(str(path))
    assert (caught.value.path, caught.value.kind) == (str(path), ErrorKind.database_error)
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["x.db"]  # no -wal or -journal left behind


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing/x.db", "cannot create database {path}: directory {parent} does not exist"),
        ("a-directory", "cannot use {path} as a database: it is a directory"),
    ],
)
async def test_a_path_that_cannot_hold_a_database_is_refused_with_the_reason(
    tmp_path: Path, where: str, message: str
) -> None:
    (tmp_path / "a-directory").mkdir()
    path = tmp_path / where
    with pytest.raises(StoreOpenError) as caught:
        async with SqliteStore.open(path):
            pass
    assert caught.value.message.startswith(message.format(path=path, parent=path.parent))
    assert not (tmp_path / "missing").exists()


async def test_an_older_version_is_upgraded_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "matter.db"
    async with SqliteStore.open(path) as store:
        await store.save_products(page(0))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 6)
    monkeypatch.setattr(
        schema, "MIGRATIONS", {5: ("CREATE TABLE extra (x)",), 6: ("CREATE TABLE bad (",)}
    )
    with pytest.raises(StoreOpenError, match="incomplete input"):
        async with SqliteStore.open(path):
            pass
    assert pragma(path, "user_version") == 4  # the failed upgrade left nothing behind
    monkeypatch.setattr(schema, "MIGRATIONS", {5: ("CREATE TABLE extra (x)",), 6: ()})
    async with SqliteStore.open(path) as store:
        assert await store.count_products() == 12
    assert pragma(path, "user_version") == 6
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM extra").fetchone() == (0,)
    connection.close()


# -- round trip ----------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8"), max_size=40)
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


@settings(max_examples=60, deadline=None)
@given(detail=details(), page_id=st.integers(0, 10_000), index_in_page=st.integers(0, 11))
async def test_product_detail_fields_round_trip_through_save_and_fetch(
    detail: ProductDetail, page_id: int, index_in_page: int
) -> None:
    ref = attrs.evolve(product(page_id, index_in_page).ref, url=detail.url)
    with tempfile.TemporaryDirectory() as directory:
        async with SqliteStore.open(Path(directory) / "matter.db") as store:
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


class _Interleaved:
    """A connection on which `between` runs right after the first statement of `inspect`
    (as another process would, setting the file up at that very moment)."""

    def __init__(self, connection: sqlite3.Connection, between: Any) -> None:
        self._connection = connection
        self._between = between

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self._connection.execute(sql, *args)
        if sql == "PRAGMA application_id" and self._between is not None:
            between, self._between = self._between, None
            between()
        return cursor


def test_inspect_sees_one_moment_of_a_file_another_process_is_setting_up(
    tmp_path: Path,
) -> None:
    # Seen in the two-crawls e2e test: one crawl read the marks (none yet), the other
    # committed the schema, the first then read the tables and refused the file as another
    # program's. One read transaction gives one snapshot: empty, as the file was.
    from trio_crawl.stores.sqlite.opening import _connect

    path = tmp_path / "new.db"
    mine = sqlite3.connect(path, isolation_level=None)
    mine.execute("PRAGMA journal_mode = WAL")  # as _connect leaves it; writers don't wait
    try:
        other: list[sqlite3.Connection] = []
        interleaved = _Interleaved(mine, lambda: other.append(_connect(str(path), 1000)))
        assert schema.inspect(interleaved, path) is schema.SchemaState.empty  # type: ignore[arg-type]
        assert other, "the other process set the file up in between"
        # Looked at again, it is the finished schema.
        assert schema.inspect(mine, path) is schema.SchemaState.current
        other[0].close()
    finally:
        mine.close()


async def test_the_heartbeat_and_every_write_refuse_a_file_deleted_or_replaced_under_the_store(
    tmp_path: Path,
) -> None:
    import os

    for how in ("deleted", "replaced"):
        path = tmp_path / f"{how}.db"
        async with SqliteStore.open(path) as store:
            await store.start_run("s1", {})
            await store.heartbeat("s1")
            if how == "deleted":
                path.unlink()
            else:
                os.rename(path, tmp_path / "moved.db")
                path.write_bytes(b"")  # another file under the name
            with pytest.raises(StageError) as error:
                await store.heartbeat("s1")
            assert error.value.kind is ErrorKind.database_unusable
            assert f"{path} was {how}" in error.value.message
            with pytest.raises(StageError, match=f"was {how}"):
                await store.finish_run("s1", "completed", {})
        if how == "replaced":
            assert path.read_bytes() == b""  # nothing of the store's went to the new file
