"""What a database says about its crawl, for `trio-crawl status` and the database page: the
catalogue shape last crawled against, how much of it is stored, where the holes are, what
failed, the last runs and the command that carries on. The read model only: a store reads it
(the SQLite store's `read_status`, in `stores.sqlite.status_read`), the UI renders it
(`trio_crawl.ui.status_text`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from ..positions import pages_with_work, site_page_of, total_products
from . import liveness

__all__ = [
    "CrawlStatus",
    "FailedRecord",
    "HoleRange",
    "NotDoneGroup",
    "RunRecord",
    "ShapeSeen",
    "continue_command",
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


# -- what every backend's status read shares: the SQL differs, the reading of it does not ------


def assemble(
    path: str,
    shape: ShapeSeen | None,
    *,
    pages_done: int,
    products_done: int,
    products_delisted: int,
    done: Sequence[int],
    not_done: tuple[NotDoneGroup, ...],
    runs: tuple[RunRecord, ...],
    failed: tuple[FailedRecord, ...],
) -> CrawlStatus:
    """The status from what a backend read: `done` are the oldest indexes of the shape's done
    (and listed) positions, ascending."""
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
    holes = list(hole_runs(done))
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


def checked_shape(shape: ShapeSeen, path: str) -> ShapeSeen:
    """`shape`, or `StoreOpenError` when its counts cannot hold its total (a damaged row)."""
    from .schema import StoreOpenError

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


def hole_runs(done: Sequence[int]) -> Iterator[tuple[int, int]]:
    """The (first, last) runs of indexes missing from ascending `done` below its largest."""
    expected = 0
    for index in done:
        if index > expected:
            yield expected, index - 1
        expected = index + 1


def invocation_of(config_json: str | None) -> tuple[str | None, str | None]:
    """The ``--site`` and ``--config`` a run recorded in its config (None each, if it did not)."""
    try:
        found = json.loads(config_json).get("invocation") if config_json else None
    except (ValueError, AttributeError):
        found = None
    if not isinstance(found, dict):
        return None, None
    site, config = found.get("site"), found.get("config_file")
    return (site if isinstance(site, str) else None, config if isinstance(config, str) else None)


def run_record(row: Mapping[str, Any], here: str, now: str) -> RunRecord:
    """A `crawl_runs` row (with ``beat``: its heartbeat, else its start) as a status shows it.
    A ``running`` one is only looked at, never marked: a status does not write."""
    status = row["status"]
    gone = (
        liveness.gone(row["pid"], row["host"], row["beat"], here, now)
        if status == "running"
        else None
    )
    return RunRecord(
        row["session_id"],
        status,
        row["started_at"],
        row["finished_at"],
        row["pages_ok"],
        row["pages_failed"],
        row["products_saved"],
        row["products_failed"],
        run_reason(row["error_json"]),
        gone,
        row["products_cancelled"],
    )


def run_reason(error_json: str | None) -> str | None:
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
