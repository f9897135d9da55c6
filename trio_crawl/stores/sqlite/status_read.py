"""`read_status`: what a SQLite database says about its crawl (`stores.status`), read without
changing the file.

A stop or a kill leaves holes, not a prefix, so "how far did it get" is not the newest stored
product: `read_status` reads the crawl ledger and counts, per position of the shape, what is
still not done. It only reads, through a read-only connection inside one transaction, so it is
safe to run while a crawl writes to the same file (WAL lets a reader see one consistent
snapshot without blocking the writer).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from ..records import MATTER_RECORDS
from ..schema import SchemaState, StoreOpenError, inspect
from ..status import (
    FAILED_SHOWN,
    FAILURES_SHOWN,
    RUNS_SHOWN,
    URLS_SHOWN,
    CrawlStatus,
    FailedRecord,
    NotDoneGroup,
    RunRecord,
    ShapeSeen,
    assemble,
    checked_shape,
    invocation_of,
    run_record,
)


def read_status(path: str | os.PathLike[str], failures: int | None = FAILURES_SHOWN) -> CrawlStatus:
    """Read the status of the crawl in the database at `path`, without changing the file;
    with the first `failures` failed items and their last errors (None: all of them).

    Raises `StoreOpenError` (its message names the file and what to do) when there is no file,
    or it is not a trio_crawl database of this schema version.
    """
    name = os.fspath(path)
    file = Path(name)
    if file.is_dir():
        raise StoreOpenError(name, f"{name} is a directory; give the --db file of a crawl")
    if not file.is_file():
        raise StoreOpenError(name, f"{name} does not exist; give the --db file of a crawl")
    uri = file.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as connection:
        state = inspect(connection, name)
        if state is SchemaState.empty:
            raise StoreOpenError(
                name, f"{name} is empty, not a trio_crawl database; give the --db file of a crawl"
            )
        if state is not SchemaState.current:
            raise StoreOpenError(
                name,
                f"{name} holds an older trio_crawl schema, without the crawl ledger; crawl into"
                " it once to upgrade it",
            )
        try:
            # One snapshot: a crawl writing to the file meanwhile cannot skew one count against
            # another.
            connection.execute("BEGIN")
            site, config_file = _invocation(connection)
            return attrs.evolve(
                _read(connection, name),
                site=site,
                config_file=config_file,
                failures=tuple(_failures(connection, failures)),
                failures_count=_scalar(
                    connection,
                    "SELECT COUNT(*) FROM crawl_ledger WHERE state = 'failed'",
                ),
            )
        except sqlite3.Error as exc:
            raise StoreOpenError(name, f"cannot read {name}: {exc}") from exc


def _read(connection: sqlite3.Connection, path: str) -> CrawlStatus:
    shape = _shape(connection, path)
    table = _record_table(connection)
    pages_done = 0
    done: list[int] = []
    if shape is not None:
        pages_done = _scalar(
            connection,
            "SELECT COUNT(DISTINCT page) FROM crawl_ledger WHERE item = 'page'"
            " AND state = 'done' AND total = ? AND page BETWEEN 1 AND ?",
            (shape.total, shape.last_page),
        )
        done = _done_positions(connection, shape, table)
    return assemble(
        path,
        shape,
        pages_done=pages_done,
        products_done=_scalar(
            connection,
            "SELECT COUNT(*) FROM crawl_ledger WHERE item = 'product' AND state = 'done'"
            f" AND url NOT IN ({_delisted(table)})",
        ),
        products_delisted=_scalar(connection, f"SELECT COUNT(*) FROM ({_delisted(table)})"),
        done=done,
        not_done=tuple(_not_done(connection)),
        runs=tuple(_runs(connection)),
        failed=tuple(_failures(connection, FAILED_SHOWN, ("failed", "cancelled"))),
    )


def _shape(connection: sqlite3.Connection, path: str) -> ShapeSeen | None:
    row = connection.execute(
        "SELECT base_url, last_page, on_last, per_page, total, session_id, seen_at, ordering"
        " FROM catalogue_shape WHERE id = 1"
    ).fetchone()
    return None if row is None else checked_shape(ShapeSeen(*row), path)


def _record_table(connection: sqlite3.Connection) -> str:
    row = connection.execute("SELECT record_table FROM catalogue_shape WHERE id = 1").fetchone()
    return MATTER_RECORDS.name if row is None else str(row[0])


def _delisted(table: str) -> str:
    quoted = table.replace('"', '""')
    return f'SELECT url FROM "{quoted}" WHERE delisted_at IS NOT NULL'


def _done_positions(connection: sqlite3.Connection, shape: ShapeSeen, table: str) -> list[int]:
    """The oldest indexes of the shape's positions whose product is done (and listed),
    ascending."""
    rows = connection.execute(
        "SELECT DISTINCT page_id * :per_page + index_in_page AS oldest FROM crawl_ledger"
        " WHERE item = 'product' AND state = 'done' AND page_id >= 0"
        f" AND url NOT IN ({_delisted(table)})"
        " AND index_in_page BETWEEN 0 AND :per_page - 1"
        " AND page_id * :per_page + index_in_page < :total ORDER BY oldest",
        {"per_page": shape.per_page, "total": shape.total},
    )
    return [int(oldest) for (oldest,) in rows]


def _invocation(connection: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The ``--site`` and ``--config`` the last run recorded (None each, if it did not)."""
    row = connection.execute(
        "SELECT config_json FROM crawl_runs ORDER BY started_at DESC, session_id DESC LIMIT 1"
    ).fetchone()
    return invocation_of(row[0] if row else None)


def _failures(
    connection: sqlite3.Connection, limit: int | None, states: tuple[str, ...] = ("failed",)
) -> Iterator[FailedRecord]:
    """The ledger's items in `states` (failed ones first), the first `limit` (None: all)."""
    marks = ", ".join("?" for _ in states)
    rows = connection.execute(
        "SELECT url, item, state, stage, COALESCE(error_kind, state), attempts,"
        " COALESCE(last_error, ''), session_id"
        f" FROM crawl_ledger WHERE state IN ({marks})"
        " ORDER BY item = 'product', state = 'cancelled', page, page_id, index_in_page, url"
        " LIMIT ?",
        (*states, -1 if limit is None else limit),
    )
    for row in rows:
        yield FailedRecord(*row)


def _not_done(connection: sqlite3.Connection) -> Iterator[NotDoneGroup]:
    groups = connection.execute(
        "SELECT item, state, COALESCE(error_kind, state) AS kind, COUNT(*) FROM crawl_ledger"
        " WHERE state IN ('failed', 'cancelled') GROUP BY item, state, kind"
        " ORDER BY item = 'product', state = 'cancelled', COUNT(*) DESC, kind"
    ).fetchall()
    for item, state, kind, count in groups:
        urls = connection.execute(
            "SELECT url FROM crawl_ledger WHERE item = ? AND state = ?"
            " AND COALESCE(error_kind, state) = ?"
            " ORDER BY page, page_id, index_in_page, url LIMIT ?",
            (item, state, kind, URLS_SHOWN),
        )
        yield NotDoneGroup(item, state, kind, count, tuple(url for (url,) in urls))


def _runs(connection: sqlite3.Connection) -> Iterator[RunRecord]:
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute(
            "SELECT session_id, status, started_at, finished_at, pages_ok, pages_failed,"
            " products_saved, products_failed, error_json, pid, host,"
            " COALESCE(heartbeat_at, started_at) AS beat, products_cancelled FROM crawl_runs"
            " ORDER BY started_at DESC, session_id DESC LIMIT ?",
            (RUNS_SHOWN,),
        ).fetchall()
    finally:
        connection.row_factory = None
    here, now = socket.gethostname(), datetime.now(UTC).isoformat(timespec="microseconds")
    for row in rows:
        yield run_record(row, here, now)


def _scalar(connection: sqlite3.Connection, query: str, params: Sequence[Any] = ()) -> int:
    return int(connection.execute(query, params).fetchone()[0])


def recorded_base_url(path: str) -> str | None:
    """The base URL the last crawl into the file at `path` recorded (None: no file, not a
    database, or no crawl yet); read-only, nothing is created."""
    if not Path(path).is_file():
        return None
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            row = connection.execute("SELECT base_url FROM catalogue_shape").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row and row[0] else None
