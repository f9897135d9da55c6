"""Opening a database file: refusing what is not ours, creating, marking or upgrading the
schema, and the site's record table."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import trio

from ...engine.results import ErrorKind
from .. import schema
from ..records import RecordTable
from ..schema import DDL, SchemaState, StoreOpenError
from .connection import immediate_transaction, is_busy

logger = logging.getLogger(__name__)


def create_records(connection: sqlite3.Connection, records: RecordTable, path: Any) -> None:
    """Create the site's record table, or check that the one there fits its record type."""
    with immediate_transaction(connection):
        found = [row[1] for row in connection.execute(f'PRAGMA table_info("{records.name}")')]
        records.check(found, os.fspath(path))
        connection.execute(records.ddl())
        for statement in records.missing_listing_columns(found):
            connection.execute(statement)


OPEN_BUSY_SECS = 15.0
"""How long opening waits, in all, for another process's lock (setting up a new file needs the
write lock, which a crawl already writing to it takes again and again; one busy timeout of
waiting is not always enough to get it)."""


async def open_connection(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """`_connect` in a thread, tried again while the file is locked, up to OPEN_BUSY_SECS."""
    give_up = trio.current_time() + OPEN_BUSY_SECS
    delay = 0.05
    while True:
        try:
            return await trio.to_thread.run_sync(_connect, path, busy_timeout_ms)
        except StoreOpenError as exc:
            if exc.kind is not ErrorKind.database_busy or trio.current_time() + delay > give_up:
                raise
        await trio.sleep(delay)
        delay = min(delay * 2, 1.0)


MIN_SQLITE = (3, 33, 0)
"""The oldest SQLite library the store's statements run on: a batch's upserts are
``UPDATE … FROM`` (`many_rows`), which SQLite has since 3.33."""


def _check_sqlite(path: str) -> None:
    """Refuse, before the file is touched, an SQLite library too old for the store's SQL: one
    clear line at opening rather than a syntax error at the first save, mid-crawl."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        raise StoreOpenError(
            path,
            f"cannot open database {path}: the SQLite library Python uses is "
            f"{sqlite3.sqlite_version}, and trio_crawl needs {needed} or newer",
        )


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open `path`, refusing (`StoreOpenError`, file unchanged) anything that is not a
    trio_crawl database or a new file; create, mark or upgrade the schema as needed."""
    _check_sqlite(path)
    _check_path(path)
    try:
        # isolation_level=None: no implicit transactions; _immediate_transaction makes them.
        connection = sqlite3.connect(
            path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreOpenError(path, f"cannot open database {path}: {exc}") from exc
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Reads only: a refused file must stay exactly as it was (WAL mode would persist).
        state = schema.inspect(connection, path)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        if state is not SchemaState.current:
            with immediate_transaction(connection):
                # Look again under the write lock: another process may have set it up meanwhile.
                _set_up(connection, schema.inspect(connection, path), path)
    except sqlite3.Error as exc:
        connection.close()
        kind = ErrorKind.database_busy if is_busy(exc) else ErrorKind.database_error
        raise StoreOpenError(path, f"cannot open database {path}: {exc}", kind) from exc
    except BaseException:
        connection.close()
        raise
    return connection


def _check_path(path: str) -> None:
    """Refuse, with the reason, the paths SQLite would only call "unable to open"."""
    if path == ":memory:":
        return
    target = Path(path)
    if target.is_dir():
        raise StoreOpenError(path, f"cannot use {path} as a database: it is a directory")
    if not target.parent.is_dir():
        raise StoreOpenError(
            path,
            f"cannot create database {path}: directory {target.parent} does not exist"
            " (create it first)",
        )


def _set_up(connection: sqlite3.Connection, state: SchemaState, path: str) -> None:
    if state is SchemaState.empty:
        for statement in DDL:
            connection.execute(statement)
    else:
        # trio_crawl 0.1's unmarked files hold version 1.
        version = 1 if state is SchemaState.unmarked else _user_version(connection)
        for step in range(version + 1, schema.SCHEMA_VERSION + 1):
            for statement in schema.MIGRATIONS[step]:
                connection.execute(statement)
        if state is SchemaState.unmarked:
            logger.info(
                "%s: marked as a trio_crawl database (schema %d)", path, schema.SCHEMA_VERSION
            )
        if version < schema.SCHEMA_VERSION:
            logger.info(
                "%s: upgraded the schema from version %d to %d",
                path,
                version,
                schema.SCHEMA_VERSION,
            )
    connection.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")


def _user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])
