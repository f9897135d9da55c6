"""A stored crawl's status as text, for `trio-crawl status` and the database page: the read
model (`trio_crawl.stores.status`) says what is there; this says it in aligned lines.

Kept on the UI side so that the store holds no wording or layout, and a second store (or a
second way of showing a status) reuses the read model as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..stores.status import CrawlStatus, NotDoneGroup, RunRecord, ShapeSeen

__all__ = ["status_lines"]

_LABEL_WIDTH = len("catalogue: ")


def status_lines(status: CrawlStatus) -> list[str]:
    """The status as a few aligned lines of text; the last says what is left and how to carry
    on."""
    out = [*_labelled("database", [status.path])]
    shape = status.shape
    if shape is None:
        out += _labelled("catalogue", ["no crawl has planned yet"])
        out += _labelled("products", [f"{status.products_done} stored"])
    else:
        out += _labelled("catalogue", [_describe_shape(shape)])
        out += _labelled(
            "pages", [f"{status.pages_done} of {status.pages_expected} list pages read"]
        )
        delisted = (
            f"; {status.products_delisted} delisted (kept, marked)"
            if status.products_delisted
            else ""
        )
        out += _labelled(
            "products",
            [f"{status.products_done} of {status.products_expected} stored{delisted}"],
        )
        out += _labelled("holes", [_describe_holes(status)])
    if status.not_done:
        out += _labelled("not done", _table([_group_row(group) for group in status.not_done]))
    if status.failures:
        rows = [[f.url, f.state, f.kind, f"{f.attempts}x", f.last_error] for f in status.failures]
        more = status.failures_count - len(status.failures)
        tail = [f"and {more} more (--failures lists them all)"] if more else []
        out += _labelled("failures", [*_table(rows), *tail])
    out += _labelled("runs", _table([_run_row(run) for run in status.runs]) or ["none yet"])
    out.append(_last_line(status))
    return out


def _describe_holes(status: CrawlStatus) -> str:
    if not status.holes:
        return "none"
    shown = ", ".join(hole.describe() for hole in status.hole_ranges)
    more = status.hole_range_count - len(status.hole_ranges)
    ranges = "range" if status.hole_range_count == 1 else "ranges"
    return (
        f"{status.holes} not stored below the newest stored, in {status.hole_range_count}"
        f" {ranges} (oldest index, site page): {shown}{f', and {more} more' if more else ''}"
    )


def _last_line(status: CrawlStatus) -> str:
    command = status.continue_with
    if command is None:
        return "nothing left: every product of the catalogue is stored"
    if status.shape is None:
        return f"left: the whole catalogue; start with: {command}"
    pages = "page" if status.pages_left == 1 else "pages"
    products = "product" if status.products_left == 1 else "products"
    return (
        f"left: {status.products_left} {products} on {status.pages_left} {pages};"
        f" continue with: {command}"
    )


def _labelled(label: str, rows: Sequence[str]) -> list[str]:
    """`rows` under a label column: the label on the first row, blanks on the others."""
    return [
        f"{(label + ':') if i == 0 else '':<{_LABEL_WIDTH}}{row}".rstrip()
        for i, row in enumerate(rows)
    ]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """`rows` of cells, each column padded to its widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [
        "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _describe_shape(shape: ShapeSeen) -> str:
    where = f" at {shape.base_url}" if shape.base_url else ""
    by = f" by session {shape.session_id}" if shape.session_id else ""
    return (
        f"{shape.total} products on {shape.last_page} pages of {shape.per_page}"
        f" ({shape.on_last} on the last){where}, seen {_when(shape.seen_at)}{by}"
    )


def _group_row(group: NotDoneGroup) -> list[str]:
    return [group.item, group.state, group.kind, str(group.count), " ".join(group.first_urls)]


def _run_row(run: RunRecord) -> list[str]:
    finished = _when(run.finished_at) if run.finished_at else "-"
    return [
        run.session_id,
        f"{run.status} (process gone)" if run.process_gone else run.status,
        _when(run.started_at),
        finished,
        f"pages {run.pages_ok} ok {run.pages_failed} failed",
        f"products {run.products_saved} saved {run.products_failed} failed"
        + (f" {run.products_cancelled} cancelled" if run.products_cancelled else ""),
        run.reason or "",
    ]


def _when(timestamp: str) -> str:
    """A stored ISO-8601 timestamp to the second in UTC ("Z"), for reading; as stored if it is
    not one."""
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
