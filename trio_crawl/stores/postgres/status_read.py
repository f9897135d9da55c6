"""`read_status` of a PostgreSQL database (`stores.status`), and the other reads the command
line makes without a crawl: the records to export and the base URL last crawled.

Each is one ``REPEATABLE READ READ ONLY`` transaction on a connection of its own: one snapshot,
however much a crawl writes meanwhile, and nothing written.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import psycopg

from ..records import MATTER_RECORDS
from ..schema import StoreOpenError
from ..status import (
    FAILED_SHOWN,
    FAILURES_SHOWN,
    RUNS_SHOWN,
    URLS_SHOWN,
    CrawlStatus,
    FailedRecord,
    NotDoneGroup,
    ShapeSeen,
    assemble,
    checked_shape,
    invocation_of,
    run_record,
)
from .connection import Connection, connect
from .opening import check, connect_error

T = TypeVar("T")


def reading(url: str, shown: str, fn: Callable[[Connection], T]) -> T:
    """`fn` in one read-only snapshot of the database at `url`, which must hold the current
    schema (`StoreOpenError` naming it by `shown` otherwise)."""
    try:
        connection = connect(url)
    except psycopg.Error as exc:
        raise connect_error(shown, exc, url) from exc
    try:
        with connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if not check(connection, shown):
                raise StoreOpenError(
                    shown, f"{shown} holds no trio_crawl database; give the --db of a crawl"
                )
            return fn(connection)
    except psycopg.Error as exc:
        raise StoreOpenError(shown, f"cannot read {shown}: {' '.join(str(exc).split())}") from exc
    finally:
        connection.close()


def read_status(url: str, shown: str, failures: int | None = FAILURES_SHOWN) -> CrawlStatus:
    """The status of the crawl in the database at `url` (see the SQLite store's)."""

    def read(connection: Connection) -> CrawlStatus:
        status = _read(connection, shown)
        row = connection.execute(
            "SELECT config_json FROM crawl_runs ORDER BY started_at DESC, session_id DESC LIMIT 1"
        ).fetchone()
        site, config_file = invocation_of(None if row is None else row["config_json"])
        return attrs.evolve(
            status,
            site=site,
            config_file=config_file,
            failures=tuple(_failures(connection, failures)),
            failures_count=_scalar(
                connection, "SELECT COUNT(*) FROM crawl_ledger WHERE state = 'failed'"
            ),
        )

    return reading(url, shown, read)


def record_table(connection: Connection) -> str:
    """The table the catalogue's items are in (as the last crawl recorded it)."""
    row = connection.execute("SELECT record_table FROM catalogue_shape WHERE id = 1").fetchone()
    return MATTER_RECORDS.name if row is None else str(row["record_table"])


def base_url(connection: Connection) -> str | None:
    """The base URL the last crawl recorded, if any."""
    row = connection.execute("SELECT base_url FROM catalogue_shape WHERE id = 1").fetchone()
    return None if row is None else row["base_url"]


def _read(connection: Connection, path: str) -> CrawlStatus:
    row = connection.execute(
        "SELECT base_url, last_page, on_last, per_page, total, session_id, seen_at, ordering"
        " FROM catalogue_shape WHERE id = 1"
    ).fetchone()
    shape = None if row is None else checked_shape(ShapeSeen(**row), path)
    table = record_table(connection)
    delisted = f'SELECT url FROM "{table}" WHERE delisted_at IS NOT NULL'
    pages_done = 0
    done: list[int] = []
    if shape is not None:
        pages_done = _scalar(
            connection,
            "SELECT COUNT(DISTINCT page) FROM crawl_ledger WHERE item = 'page'"
            " AND state = 'done' AND total = %s AND page BETWEEN 1 AND %s",
            (shape.total, shape.last_page),
        )
        done = [
            int(found["oldest"])
            for found in connection.execute(
                "SELECT DISTINCT page_id * %(per_page)s + index_in_page AS oldest"
                " FROM crawl_ledger WHERE item = 'product' AND state = 'done' AND page_id >= 0"
                f" AND url NOT IN ({delisted})"
                " AND index_in_page BETWEEN 0 AND %(per_page)s - 1"
                " AND page_id * %(per_page)s + index_in_page < %(total)s ORDER BY oldest",
                {"per_page": shape.per_page, "total": shape.total},
            )
        ]
    return assemble(
        path,
        shape,
        pages_done=pages_done,
        products_done=_scalar(
            connection,
            "SELECT COUNT(*) FROM crawl_ledger WHERE item = 'product' AND state = 'done'"
            f" AND url NOT IN ({delisted})",
        ),
        products_delisted=_scalar(connection, f"SELECT COUNT(*) FROM ({delisted}) AS d"),
        done=done,
        not_done=tuple(_not_done(connection)),
        runs=tuple(_runs(connection)),
        failed=tuple(_failures(connection, FAILED_SHOWN, ("failed", "cancelled"))),
    )


def _failures(
    connection: Connection, limit: int | None, states: tuple[str, ...] = ("failed",)
) -> Iterator[FailedRecord]:
    """The ledger's items in `states` (failed ones first), the first `limit` (None: all)."""
    rows = connection.execute(
        "SELECT url, item, state, stage, COALESCE(error_kind, state) AS kind, attempts,"
        " COALESCE(last_error, '') AS last_error, session_id"
        " FROM crawl_ledger WHERE state = ANY(%s)"
        " ORDER BY item = 'product', state = 'cancelled', page, page_id, index_in_page, url"
        " LIMIT %s",
        (list(states), limit),
    )
    for row in rows:
        yield FailedRecord(**row)


def _not_done(connection: Connection) -> Iterator[NotDoneGroup]:
    groups = connection.execute(
        "SELECT item, state, COALESCE(error_kind, state) AS kind, COUNT(*) AS count"
        " FROM crawl_ledger WHERE state IN ('failed', 'cancelled') GROUP BY item, state, kind"
        " ORDER BY item = 'product', state = 'cancelled', COUNT(*) DESC, kind"
    ).fetchall()
    for group in groups:
        urls = connection.execute(
            "SELECT url FROM crawl_ledger WHERE item = %s AND state = %s"
            " AND COALESCE(error_kind, state) = %s"
            " ORDER BY page, page_id, index_in_page, url LIMIT %s",
            (group["item"], group["state"], group["kind"], URLS_SHOWN),
        )
        yield NotDoneGroup(
            group["item"],
            group["state"],
            group["kind"],
            group["count"],
            tuple(found["url"] for found in urls),
        )


def _runs(connection: Connection) -> Iterator[Any]:
    rows = connection.execute(
        "SELECT session_id, status, started_at, finished_at, pages_ok, pages_failed,"
        " products_saved, products_failed, error_json, pid, host,"
        " COALESCE(heartbeat_at, started_at) AS beat, products_cancelled FROM crawl_runs"
        " ORDER BY started_at DESC, session_id DESC LIMIT %s",
        (RUNS_SHOWN,),
    ).fetchall()
    here, now = socket.gethostname(), datetime.now(UTC).isoformat(timespec="microseconds")
    for row in rows:
        yield run_record(row, here, now)


def _scalar(connection: Connection, query: str, params: Any = ()) -> int:
    row = connection.execute(query, params).fetchone()
    assert row is not None
    return int(next(iter(row.values())))


def export_records(
    url: str, shown: str, write: Callable[[Iterator[dict[str, Any]], list[str]], int]
) -> int:
    """`write(records, column names)` over every stored item, oldest position first, read
    through a server-side cursor (the records stream; they are never all in memory)."""

    def read(connection: Connection) -> int:
        table = record_table(connection).replace('"', '""')
        with connection.cursor(name="trio_crawl_export") as cursor:
            cursor.execute(
                f'SELECT * FROM "{table}"'
                " ORDER BY page_id, index_in_page, delisted_at IS NOT NULL, url"
            )
            first = cursor.fetchone()
            names = [column.name for column in cursor.description or ()]

            def records() -> Iterator[dict[str, Any]]:
                if first is not None:
                    yield dict(first)
                    yield from (dict(row) for row in cursor)

            return write(records(), names)

    return reading(url, shown, read)


def recorded_base_url(url: str, shown: str) -> str | None:
    """The base URL the last crawl into the database at `url` recorded (None: none yet)."""
    return reading(url, shown, base_url)
