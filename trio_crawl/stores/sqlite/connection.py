"""The store's one SQLite connection and the thread it is used from.

sqlite3 blocks, so every call runs in a worker thread (`trio.to_thread.run_sync`) on the
store's one connection; a `trio.Lock` makes sure only one thread uses that connection at a
time. sqlite3 errors become `StageError`s in one place, `map_sqlite_errors`. Every write is one
BEGIN IMMEDIATE … COMMIT transaction, which first writes the rows deferred to it (`defer`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import trio

from ...engine.results import ErrorKind, StageError
from ..records import MATTER_RECORDS, RecordTable
from .many_rows import ManyRows, Upserts

T = TypeVar("T")

Row = dict[str, Any]

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


@contextmanager
def map_sqlite_errors(path: str = "the database") -> Iterator[None]:
    """Translate sqlite3 failures into `StageError`: lock contention (SQLITE_BUSY/LOCKED,
    "database is locked") is `database_busy`, which the saving stage retries; a file that can
    take no more writes (full disk, read-only, I/O error, damaged) is `database_unusable`, which
    ends the session, with a message naming `path` and the cause; any other sqlite3 error is
    `database_error`. The sqlite3 exception is kept as the cause."""
    try:
        yield
    except sqlite3.Error as exc:
        cause = _UNUSABLE.get((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF)
        if cause is not None:
            raise StageError(ErrorKind.database_unusable, f"{cause.format(path)} ({exc})") from exc
        kind = ErrorKind.database_busy if is_busy(exc) else ErrorKind.database_error
        raise StageError(kind, f"{type(exc).__name__}: {exc}") from exc


_UNUSABLE = {
    sqlite3.SQLITE_FULL: "cannot write to {}: the disk is full",
    sqlite3.SQLITE_READONLY: "cannot write to {}: it is read-only",
    sqlite3.SQLITE_IOERR: "cannot write to {}: input/output error",
    sqlite3.SQLITE_CORRUPT: "cannot use {}: the file is damaged",
    sqlite3.SQLITE_NOTADB: "cannot use {}: it is no longer a database",
    sqlite3.SQLITE_CANTOPEN: "cannot write to {}: it cannot be opened",
}
"""The primary result codes that say the file can take no more writes, and how to say so."""


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether `exc` is lock contention (which waiting may cure)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY_CODES:
        return True
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def utc_timestamp() -> str:
    """Now as ISO-8601 UTC text with microseconds (fixed width, so it sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (take the write lock up front, so contention shows at the start) …
    COMMIT, rolling back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


class SqliteConnection:
    """The connection, its lock and thread, and the checks every write makes: what the ledger,
    the runs and the record upserts of `SqliteStore` share.

    `per_page` is the catalogue's page size, used to turn `(page_id, index_in_page)` into a
    position; `records` the table the catalogue's items are kept in (None: the Matter
    catalogue's, `MATTER_RECORDS`).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        per_page: int = 12,
        records: RecordTable | None = None,
        path: str = ":memory:",
    ) -> None:
        self._connection = connection
        self._path = path
        self._identity = file_identity(path)
        """The opened file's (device, inode): `_check_file` compares the path's with it."""
        self._lost: StageError | None = None
        """Why the file may not be written any more (deleted or replaced under the crawl)."""
        self._per_page = per_page
        self._records = MATTER_RECORDS if records is None else records
        self._table = self._records.name
        self._lock = trio.Lock()
        self._upserts = Upserts()
        self._deferred: list[tuple[ManyRows, Row]] = []
        """Rows that go out with the next write, so that recording them costs no transaction
        of its own (the ledger's list pages read: a kill before then leaves them pending,
        which is what they are until their products are stored)."""

    def defer(self, statement: ManyRows, rows: Sequence[Row]) -> None:
        """Write `rows` with `statement` at the start of the next write's transaction."""
        self._deferred.extend((statement, row) for row in rows)

    async def aclose(self) -> None:
        """Write what is deferred, close the connection; later calls fail with
        `database_error`."""
        if self._deferred:
            with contextlib.suppress(StageError):
                await self._write(lambda connection: None)
        await self._run(lambda connection: connection.close())

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            with map_sqlite_errors(self._path):
                return await trio.to_thread.run_sync(fn, self._connection)

    async def _check_file(self) -> None:
        """Refuse (`database_unusable`) to write once the path no longer names the file that
        was opened. A write then would go to a deleted file, and the WAL, which SQLite finds by
        name and leaves behind when the file has moved, would be read as the new file's and
        damage it: so what the WAL holds goes into the opened file (the moved one) first, and
        the WAL is emptied."""
        if self._lost is None and self._identity is not None:
            now = file_identity(self._path)
            if now is None:
                what = "was deleted"
            elif now != self._identity:
                what = "was replaced by another file"
            else:
                return
            self._lost = StageError(
                ErrorKind.database_unusable,
                f"{self._path} {what} while the crawl was writing to it; nothing more is"
                " written to it",
            )
            with contextlib.suppress(StageError):
                await self._run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        if self._lost is not None:
            raise self._lost

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one BEGIN IMMEDIATE … COMMIT transaction (rolled back if it fails),
        after the rows deferred since the last write (see `defer`)."""
        await self._check_file()
        deferred, self._deferred = self._deferred, []

        def write(connection: sqlite3.Connection) -> T:
            with immediate_transaction(connection):
                _write_deferred(connection, self._upserts, deferred)
                return fn(connection)

        try:
            return await self._run(write)
        except BaseException:
            self._deferred[:0] = deferred  # not written: the next write takes them
            raise


def _write_deferred(
    connection: sqlite3.Connection, upserts: Upserts, deferred: list[tuple[ManyRows, Row]]
) -> None:
    """Each statement's rows in one go, statements in the order they were first deferred."""
    grouped: dict[ManyRows, list[Row]] = {}
    for statement, row in deferred:
        grouped.setdefault(statement, []).append(row)
    for statement, rows in grouped.items():
        upserts.many(connection, statement, rows)


def file_identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) `path` names now; None if nothing (or an in-memory database)."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino
