"""The store's one PostgreSQL connection and the thread it is used from.

psycopg's own async connection needs asyncio, so the store uses its blocking one: every call
runs in a worker thread (`trio.to_thread.run_sync`) under a `trio.Lock`, as the SQLite store
does. psycopg errors become `StageError`s in one place, `map_postgres_errors`. A connection the
server dropped (a restart, a network cut) is replaced by a new one on the next call, so a crawl
whose saving stage retries `database_error` carries on once the server is back.

Every write is one transaction, which first writes the rows deferred to it (`defer`); a save
sends all of it in one go (`_write`'s `pipelined`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import psycopg
import psycopg.errors
import trio
from psycopg.rows import dict_row

from ...engine.results import ErrorKind, StageError
from ..records import MATTER_RECORDS, RecordTable

T = TypeVar("T")
Row = dict[str, Any]
Connection = psycopg.Connection[Any]

_BUSY = (
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.LockNotAvailable,
)
_UNUSABLE = {
    psycopg.errors.DiskFull: "cannot write to {}: the server's disk is full",
    psycopg.errors.ReadOnlySqlTransaction: "cannot write to {}: it is read-only",
    psycopg.errors.InsufficientPrivilege: "cannot write to {}: permission denied",
}


@contextmanager
def map_postgres_errors(where: str = "the database") -> Iterator[None]:
    """Translate psycopg failures into `StageError`: lock contention (deadlock, serialization
    failure) is `database_busy`, which the saving stage retries; a database that takes no more
    writes (disk full, read-only, permission) is `database_unusable`, which ends the session;
    anything else (a lost connection included) is `database_error`. The cause is kept."""
    try:
        yield
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for error_type, cause in _UNUSABLE.items():
            if isinstance(exc, error_type):
                raise StageError(
                    ErrorKind.database_unusable, f"{cause.format(where)} ({first})"
                ) from exc
        if isinstance(exc, _BUSY):
            raise StageError(ErrorKind.database_busy, f"{type(exc).__name__}: {first}") from exc
        if isinstance(exc, psycopg.OperationalError):
            raise StageError(
                ErrorKind.database_error, f"lost the connection to {where}: {first}"
            ) from exc
        raise StageError(ErrorKind.database_error, f"{type(exc).__name__}: {first}") from exc


def utc_timestamp() -> str:
    """Now as ISO-8601 UTC text with microseconds (the SQLite store's format: it sorts as text
    and `stores.liveness` reads it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class ManyRows(NamedTuple):
    """An INSERT of one row (`insert_many` runs it for many)."""

    insert: str
    """``INSERT INTO table (columns)``"""
    one_row: str
    """One row's ``(%s, …)``, constants included."""
    conflict: str
    """`` ON CONFLICT …``"""
    names: tuple[str, ...]
    """The row keys the placeholders of `one_row` take, in order."""


def insert_many(connection: Connection, statement: ManyRows, rows: Sequence[Row]) -> None:
    """Insert `rows` with one short statement run once a row in pipeline mode (psycopg's
    `executemany`: one round trip for all of them, the statement parsed once and prepared by the
    server). ``ON CONFLICT DO UPDATE`` then sees a url repeated as two rows, the last winning;
    rows go in url order, so that two writers lock rows in the same order and never deadlock."""
    if not rows:
        return
    latest = {row["url"]: row for row in rows}
    ordered = [tuple(latest[url][name] for name in statement.names) for url in sorted(latest)]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"{statement.insert} VALUES {statement.one_row}{statement.conflict}", ordered
        )


def connect(conninfo: str) -> Connection:
    """A new connection in autocommit mode (transactions are explicit: `transaction()`)."""
    return psycopg.connect(conninfo, autocommit=True, row_factory=dict_row)


class PostgresConnection:
    """The connection, its lock and thread: what the ledger, the runs and the record upserts
    of `PostgresStore` share.

    `per_page` is the catalogue's page size, used to turn `(page_id, index_in_page)` into a
    position; `records` the table the catalogue's items are kept in (None: the Matter
    catalogue's, `MATTER_RECORDS`); `shown` the database's URL without its password, for
    messages.
    """

    def __init__(
        self,
        connection: Connection,
        conninfo: str,
        *,
        shown: str,
        per_page: int = 12,
        records: RecordTable | None = None,
    ) -> None:
        self._connection = connection
        self._conninfo = conninfo
        self._path = shown
        self._closed = False
        self._per_page = per_page
        self._records = MATTER_RECORDS if records is None else records
        self._table = self._records.name
        self._lock = trio.Lock()
        self._deferred: list[tuple[ManyRows, Row]] = []
        """Rows that go out with the next write, so that recording them costs no transaction
        of its own (the ledger's list pages read)."""

    def defer(self, statement: ManyRows, rows: Sequence[Row]) -> None:
        """Write `rows` with `statement` at the start of the next write's transaction."""
        self._deferred.extend((statement, row) for row in rows)

    async def aclose(self) -> None:
        """Write what is deferred, close the connection; later calls fail with
        `database_error`."""
        if self._deferred:
            with contextlib.suppress(StageError):
                await self._write(lambda connection: None)
        async with self._lock:
            self._closed = True
            await trio.to_thread.run_sync(self._connection.close)

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        async with self._lock:
            if self._closed:
                raise StageError(ErrorKind.database_error, f"the store of {self._path} is closed")
            with map_postgres_errors(self._path):
                return await trio.to_thread.run_sync(self._call, fn)

    def _call(self, fn: Callable[[Connection], T]) -> T:
        """`fn` on the connection, first replacing one the server has dropped."""
        if self._connection.closed:
            self._connection = connect(self._conninfo)
        return fn(self._connection)

    async def _write(self, fn: Callable[[Connection], T], *, pipelined: bool = False) -> T:
        """Run `fn` in one transaction (rolled back if it fails), after the rows deferred
        since the last write (see `defer`).

        `pipelined` (for an `fn` that reads no result back): the deferred rows and `fn`'s
        statements go to the server together, closed by one Sync, and are answered together
        (psycopg's pipeline mode), so the write waits for the server once, not once a
        statement. Statements up to a Sync outside BEGIN are one implicit transaction (the
        protocol's rule): committed at the Sync if every one succeeded, else rolled back, the
        rest skipped. An explicit BEGIN/COMMIT would cost psycopg a Sync each."""
        deferred, self._deferred = self._deferred, []

        def write(connection: Connection) -> T:
            with connection.transaction():
                _write_deferred(connection, deferred)
                return fn(connection)

        def write_pipelined(connection: Connection) -> T:
            with connection.pipeline():
                _write_deferred(connection, deferred)
                return fn(connection)

        try:
            return await self._run(write_pipelined if pipelined else write)
        except BaseException:
            self._deferred[:0] = deferred  # not written: the next write takes them
            raise


def _write_deferred(connection: Connection, deferred: list[tuple[ManyRows, Row]]) -> None:
    """Each statement's rows in one go, statements in the order they were first deferred."""
    grouped: dict[ManyRows, list[Row]] = {}
    for statement, row in deferred:
        grouped.setdefault(statement, []).append(row)
    for statement, rows in grouped.items():
        insert_many(connection, statement, rows)
