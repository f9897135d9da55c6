"""`read_status`: what a SQLite database says about its crawl (`stores.status`), read without
changing the file.

A stop or a kill leaves holes, not a prefix, so "how far did it get" is not the newest stored
product: `read_status` reads the crawl ledger and counts, per position of the shape, what is
still not done. It only reads, through a read-only connection inside one transaction, so it is
safe to run while a crawl writes to the same file (WAL lets a reader see one consistent
snapshot without blocking the writer).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from ...positions import pages_with_work, total_products
from .. import liveness
from ..records import MATTER_RECORDS
from ..schema import SchemaState, StoreOpenError, inspect
from ..status import (
    FAILED_SHOWN,
    FAILURES_SHOWN,
    HOLE_RANGES_SHOWN,
    RUNS_SHOWN,
    URLS_SHOWN,
    CrawlStatus,
    FailedRecord,
    HoleRange,
    NotDoneGroup,
    RunRecord,
    ShapeSeen,
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
    products_done = _scalar(
        connection,
        "SELECT COUNT(*) FROM crawl_ledger WHERE item = 'product' AND state = 'done'"
        f" AND url NOT IN ({_delisted(table)})",
    )
    products_delisted = _scalar(connection, f"SELECT COUNT(*) FROM ({_delisted(table)})")
    not_done = tuple(_not_done(connection))
    runs = tuple(_runs(connection))
    failed = tuple(_failures(connection, FAILED_SHOWN, ("failed", "cancelled")))
    if shape is None:
        return CrawlStatus(
            path=path,
            shape=None,
            pages_done=0,
            pages_expected=None,
            products_done=products_done,
            products_expected=None,
            holes=0,
            hole_range_count=0,
            hole_ranges=(),
            pages_left=None,
            products_left=None,
            not_done=not_done,
            runs=runs,
            products_delisted=products_delisted,
            failed=failed,
        )
    pages_done = _scalar(
        connection,
        "SELECT COUNT(DISTINCT page) FROM crawl_ledger WHERE item = 'page' AND state = 'done'"
        " AND total = ? AND page BETWEEN 1 AND ?",
        (shape.total, shape.last_page),
    )
    done = _done_positions(connection, shape, table)
    holes = list(_holes(done))
    # The planner's own rule, so that "pages left" is what the next crawl will read.
    pages_left = pages_with_work(
        last_page=shape.last_page,
        on_last=shape.on_last,
        per_page=shape.per_page,
        done=set(done),
        ordering=shape.ordering,
    )
    return CrawlStatus(
        path=path,
        shape=shape,
        pages_done=pages_done,
        pages_expected=shape.last_page,
        products_done=products_done,
        products_expected=shape.total,
        holes=sum(last - first + 1 for first, last in holes),
        hole_range_count=len(holes),
        hole_ranges=tuple(
            HoleRange(first, last, tuple(range(shape.page_of(last), shape.page_of(first) + 1)))
            for first, last in holes[:HOLE_RANGES_SHOWN]
        ),
        pages_left=len(pages_left),
        products_left=shape.total - len(done),
        not_done=not_done,
        runs=runs,
        products_delisted=products_delisted,
        failed=failed,
    )


def _shape(connection: sqlite3.Connection, path: str) -> ShapeSeen | None:
    row = connection.execute(
        "SELECT base_url, last_page, on_last, per_page, total, session_id, seen_at, ordering"
        " FROM catalogue_shape WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    shape = ShapeSeen(*row)
    try:
        consistent = total_products(shape.last_page, shape.on_last, shape.per_page) == shape.total
    except ValueError:
        consistent = False
    if not consistent:
        raise StoreOpenError(
            path,
            f"{path} is a damaged trio_crawl database (catalogue_shape: {shape.last_page} pages"
            f" of {shape.per_page}, {shape.on_last} on the last, cannot hold {shape.total})",
        )
    return shape


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


def _holes(done: Sequence[int]) -> Iterator[tuple[int, int]]:
    """The (first, last) runs of indexes missing from ascending `done` below its largest."""
    expected = 0
    for index in done:
        if index > expected:
            yield expected, index - 1
        expected = index + 1


def _invocation(connection: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The ``--site`` and ``--config`` the last run recorded (None each, if it did not)."""
    row = connection.execute(
        "SELECT config_json FROM crawl_runs ORDER BY started_at DESC, session_id DESC LIMIT 1"
    ).fetchone()
    try:
        found = json.loads(row[0]).get("invocation") if row and row[0] else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return None, None
    site, config = found.get("site"), found.get("config_file")
    return (site if isinstance(site, str) else None, config if isinstance(config, str) else None)


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
    rows = connection.execute(
        "SELECT session_id, status, started_at, finished_at, pages_ok, pages_failed,"
        " products_saved, products_failed, error_json, pid, host,"
        " COALESCE(heartbeat_at, started_at), products_cancelled FROM crawl_runs"
        " ORDER BY started_at DESC, session_id DESC LIMIT ?",
        (RUNS_SHOWN,),
    )
    here, now = socket.gethostname(), datetime.now(UTC).isoformat(timespec="microseconds")
    for (
        session_id,
        status,
        started_at,
        finished_at,
        *counts,
        error_json,
        pid,
        host,
        beat,
        cut,
    ) in rows:
        pages_ok, pages_failed, products_saved, products_failed = counts
        # Only looked at, never marked: a status does not write (the next crawl marks it).
        gone = liveness.gone(pid, host, beat, here, now) if status == "running" else None
        yield RunRecord(
            session_id,
            status,
            started_at,
            finished_at,
            pages_ok,
            pages_failed,
            products_saved,
            products_failed,
            _reason(error_json),
            gone,
            cut,
        )


def _reason(error_json: str | None) -> str | None:
    """The reason a run recorded (`reason`, else `kind: message`); None when the JSON is
    missing, malformed or says neither — it is optional and written by other versions."""
    if error_json is None:
        return None
    try:
        error = json.loads(error_json)
    except ValueError:
        return None
    if not isinstance(error, dict):
        return None
    reason = error.get("reason")
    if isinstance(reason, str) and reason:
        return reason
    message = error.get("message")
    if isinstance(message, str) and message:
        kind = error.get("kind")
        return f"{kind}: {message}" if isinstance(kind, str) and kind else message
    return None


def _scalar(connection: sqlite3.Connection, query: str, params: Sequence[Any] = ()) -> int:
    return int(connection.execute(query, params).fetchone()[0])
