"""What only the SQLite store has: its file's schema marks and upgrades, WAL, locks and busy
timeouts, the file under it; the promises every backend keeps are in test_store_contract.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.records import Product, ProductDetail, ProductRef
from trio_crawl.stores import SqliteStore, StoreOpenError, schema
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


@pytest.mark.parametrize(
    "arguments", [{"busy_timeout_ms": -1}, {"per_page": 0}], ids=["busy_timeout", "per_page"]
)
async def test_open_rejects_nonsense_arguments(tmp_path: Path, arguments: Any) -> None:
    with pytest.raises(ValueError):
        async with SqliteStore.open(tmp_path / "matter.db", **arguments):
            pass
    assert not (tmp_path / "matter.db").exists()


# -- saving --------------------------------------------------------------------------------


def test_within_a_batch_the_last_product_for_a_url_or_position_wins() -> None:
    first = product(0, 0, firmware_version="old")
    same_url = product(0, 0, firmware_version="new")
    same_position = product(1, 1, url="https://example.test/x/")
    takes_position = product(1, 1, url="https://example.test/y/")
    other = product(2, 2)
    batch = [first, same_position, other, same_url, takes_position]
    assert latest_per_url_and_position(batch) == [other, same_url, takes_position]


# -- positions -----------------------------------------------------------------------------


# -- crawl runs ----------------------------------------------------------------------------


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
