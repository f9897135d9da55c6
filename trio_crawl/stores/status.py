"""What a database says about its crawl, for `trio-crawl status`: the catalogue shape last
crawled against, how much of it is stored, where the holes are, what failed, the last runs and
the command that carries on.

A stop or a kill leaves holes, not a prefix, so "how far did it get" is not the newest stored
product: `read_status` reads the crawl ledger and counts, per position of the shape, what is
still not done. It only reads, through a read-only connection inside one transaction, so it is
safe to run while a crawl writes to the same file (WAL lets a reader see one consistent
snapshot without blocking the writer). Its text is `trio_crawl.ui.status_text`'s: this module
says what is there, not how it reads.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from ..positions import pages_with_work, site_page_of, total_products
from . import liveness
from .records import MATTER_RECORDS
from .schema import SchemaState, StoreOpenError, inspect

__all__ = [
    "CrawlStatus",
    "FailedRecord",
    "HoleRange",
    "NotDoneGroup",
    "RunRecord",
    "ShapeSeen",
    "continue_command",
    "read_status",
]

HOLE_RANGES_SHOWN = 5
"""How many hole ranges a status lists (the count covers all of them)."""

FAILURES_SHOWN = 10
"""How many failed items `read_status` lists with their last error unless asked for all."""

URLS_SHOWN = 3
"""How many URLs a status names for each kind of failed or cancelled item."""

RUNS_SHOWN = 5
"""How many of the latest crawl runs a status lists."""

FAILED_SHOWN = 1000
"""How many failed or cancelled items a status lists one by one, with their reasons."""

_UNKNOWN_URL = "URL"  # stands in for a base URL the database does not know


def continue_command(
    base_url: str, db: str, config: str | None = None, site: str | None = None
) -> str:
    """The `trio-crawl crawl` command line that carries on crawling `base_url` (with the site
    factory `site`, if not the Matter catalogue's) into `db`, each argument shell-quoted, so
    that it can be pasted as printed."""
    words = ["trio-crawl", "crawl", "--base-url", base_url, "--db", db]
    if config is not None:
        words += ["--config", config]
    if site is not None and site != "matter":
        words += ["--site", site]
    return " ".join(shlex.quote(word) for word in words)


@attrs.frozen
class ShapeSeen:
    """The catalogue shape the last session crawled against (the `catalogue_shape` row)."""

    base_url: str | None
    last_page: int
    on_last: int
    per_page: int
    total: int
    session_id: str | None
    seen_at: str
    ordering: str = "newest_first"
    """How the site lists its items: which site page shows a position."""

    def page_of(self, oldest_index: int) -> int:
        """The site page that shows the product with this oldest index."""
        page, _ = site_page_of(
            oldest_index,
            last_page=self.last_page,
            on_last=self.on_last,
            per_page=self.per_page,
            ordering=self.ordering,
        )
        return page


@attrs.frozen
class HoleRange:
    """Consecutive positions not stored, `first`..`last` (oldest indexes, inclusive), and the
    site pages that show them (ascending)."""

    first: int
    last: int
    pages: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last, "count": self.count, "pages": [*self.pages]}

    def describe(self) -> str:
        span = str(self.first) if self.first == self.last else f"{self.first}..{self.last}"
        if len(self.pages) == 1:
            return f"{span} (page {self.pages[0]})"
        return f"{span} (pages {self.pages[0]}..{self.pages[-1]})"


@attrs.frozen
class NotDoneGroup:
    """The list pages or products a run gave up on (`state` failed or cancelled) with one error
    kind: how many, and the first `URLS_SHOWN` URLs (oldest position, or lowest page, first)."""

    item: str
    state: str
    kind: str
    count: int
    first_urls: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "state": self.state,
            "kind": self.kind,
            "count": self.count,
            "first_urls": [*self.first_urls],
        }


@attrs.frozen
class FailedRecord:
    """One list page or product the ledger holds as failed or cancelled, with the reason the
    run that gave up on it recorded (`last_error`): what an operator needs to judge it."""

    url: str
    item: str
    state: str
    stage: str | None
    kind: str
    attempts: int
    last_error: str
    session_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class RunRecord:
    """One `crawl_runs` row, as a status shows it; `reason` is the one the run recorded in its
    error JSON, if any. `process_gone` is None unless the run says ``running``; then it tells
    whether its process is gone (killed: the next crawl will mark the run ``interrupted``)."""

    session_id: str
    status: str
    started_at: str
    finished_at: str | None
    pages_ok: int
    pages_failed: int
    products_saved: int
    products_failed: int
    reason: str | None = None
    process_gone: bool | None = None
    products_cancelled: int = 0
    """Products a stop cut short: not counted as failed."""

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class CrawlStatus:
    """How far the crawl in the database at `path` got. Create it with `read_status`.

    Without a shape (no crawl has planned yet) the counts that need one are None and there are
    no holes. `products_left` counts the shape's positions not stored (total - done, unless the
    store holds positions the shape does not have).
    """

    path: str
    shape: ShapeSeen | None
    pages_done: int
    pages_expected: int | None
    products_done: int
    products_expected: int | None
    holes: int
    hole_range_count: int
    hole_ranges: tuple[HoleRange, ...]
    pages_left: int | None
    products_left: int | None
    not_done: tuple[NotDoneGroup, ...]
    runs: tuple[RunRecord, ...]
    products_delisted: int = 0
    """Products stored once and no longer listed: kept, marked delisted, not counted as done."""
    failures: tuple[FailedRecord, ...] = ()
    """The failed items with their last errors (the first `FAILURES_SHOWN`, unless
    `read_status` was asked for all); cancelled ones are work left, not failures."""
    failures_count: int = 0
    site: str | None = None
    """The ``--site`` factory and ``--config`` file the last run was started with (recorded
    with it), which the continue command keeps."""
    config_file: str | None = None
    failed: tuple[FailedRecord, ...] = ()
    """The first `FAILED_SHOWN` items not done (failed, then cancelled), one by one, with their
    reasons (the groups count all of them): what the web page lists."""

    @property
    def continue_with(self) -> str | None:
        """The command that carries on, or None when every product of the shape is stored."""
        if self.products_left == 0:
            return None
        base_url = self.shape.base_url if self.shape is not None else None
        return continue_command(base_url or _UNKNOWN_URL, self.path, self.config_file, self.site)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values under stable key names."""
        return {
            "db": self.path,
            "shape": None if self.shape is None else attrs.asdict(self.shape),
            "pages": {
                "done": self.pages_done,
                "expected": self.pages_expected,
                "left": self.pages_left,
            },
            "products": {
                "done": self.products_done,
                "expected": self.products_expected,
                "left": self.products_left,
                "delisted": self.products_delisted,
            },
            "holes": {
                "count": self.holes,
                "ranges": self.hole_range_count,
                "first_ranges": [hole.to_dict() for hole in self.hole_ranges],
            },
            "not_done": [group.to_dict() for group in self.not_done],
            "failures": {
                "count": self.failures_count,
                "items": [failure.to_dict() for failure in self.failures],
            },
            "runs": [run.to_dict() for run in self.runs],
            "failed_items": [record.to_dict() for record in self.failed],
            "continue_command": self.continue_with,
        }


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
