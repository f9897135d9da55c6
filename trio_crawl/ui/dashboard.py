"""A live terminal dashboard fed only by session events (it never reaches into the crawl).

It is one more subscriber: if it renders slowly it loses progress events, never the crawl's
time. Rendering is driven from a trio task (rich's auto-refresh thread is off).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import trio
from rich.console import Console, Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..engine import events as ev
from ..engine.summary import SessionSummary

STAGES = ("list_pages", "product_details", "validation", "saving")


@attrs.define
class StageTally:
    """One stage's counts over the whole session, summed over batches. Items a stop cut short
    are `cancelled`, apart from `failed` (as the summary keeps them)."""

    seen: int = 0
    done: int = 0
    failed: int = 0
    retries: int = 0
    cancelled: int = 0
    per_batch: dict[int, tuple[int, int, int, int]] = attrs.field(factory=dict)

    def progress(
        self, batch_id: int, done: int, failed: int, retries: int, cancelled: int = 0
    ) -> None:
        old_done, old_failed, old_retries, old_cancelled = self.per_batch.get(
            batch_id, (0, 0, 0, 0)
        )
        self.done += done - old_done
        self.failed += failed - old_failed
        self.retries += retries - old_retries
        self.cancelled += cancelled - old_cancelled
        self.per_batch[batch_id] = (done, failed, retries, cancelled)


@attrs.define
class DashboardState:
    """What the dashboard knows, folded from events; pure, so it is testable without a TTY."""

    session_id: str = ""
    status: str = "starting"
    planned_pages: int = 0
    planned: bool = False
    ended: bool = False
    expected: dict[str, int] = attrs.field(factory=dict)
    started_at: float | None = None
    now: float = 0.0
    paused: bool = False
    lost: int = 0
    stages: dict[str, StageTally] = attrs.field(factory=lambda: {s: StageTally() for s in STAGES})
    notes: list[str] = attrs.field(factory=list)
    summary: SessionSummary | None = None

    def apply(self, event: ev.Event) -> None:
        if self.started_at is None:
            self.started_at = event.ts
        self.now = event.ts
        if isinstance(event, ev.SessionStarted):
            self.session_id, self.status = event.session_id, "planning"
        elif isinstance(event, ev.PlanReady):
            self.planned_pages, self.status = event.items, "crawling"
            self.planned, self.expected = True, dict(event.expected)
        elif isinstance(event, ev.StageStarted):
            self._tally(event.stage).seen += event.items
        elif isinstance(event, ev.ItemProgress):
            self._tally(event.stage).progress(
                event.batch_id, event.done, event.failed, event.retries, event.cancelled
            )
        elif isinstance(event, ev.StageRetrying) and event.batch_id == 0:
            self.notes.append(f"status check retry {event.attempt}: {event.kind}")
        elif isinstance(event, ev.SessionPaused | ev.SessionResumed):
            self.paused = isinstance(event, ev.SessionPaused)
        elif isinstance(event, ev.ItemFailed) and event.kind != "cancelled":
            self.notes.append(
                f"gave up on {event.item} ({event.stage}): {event.kind} after"
                f" {event.attempts} attempts: {' '.join(event.message.split())}"
            )
        elif isinstance(event, ev.ConfigReloaded):
            self.notes.append(f"config reloaded: {', '.join(event.changed) or 'no change'}")
        elif isinstance(event, ev.ConfigRejected):
            self.notes.append(f"config change rejected: {event.error.splitlines()[0]}")
        elif isinstance(event, ev.EventsLost):
            self.lost += event.count
        elif isinstance(event, ev.SessionEnded):
            self.status, self.ended = event.status, True
            self.summary = event.summary
        del self.notes[:-3]

    def _tally(self, stage: str) -> StageTally:
        return self.stages.setdefault(stage, StageTally())

    @property
    def elapsed(self) -> float:
        return 0.0 if self.started_at is None else self.now - self.started_at

    def pages_per_sec(self) -> float:
        pages = self.stages["list_pages"]
        return (pages.done + pages.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def details_per_sec(self) -> float:
        """Detail pages fetched per second: products on their way, not only those saved."""
        fetched = self.stages["product_details"]
        return (fetched.done + fetched.failed) / self.elapsed if self.elapsed > 0 else 0.0

    def products_per_sec(self) -> float:
        """Products saved per second: the summary's figure (once it has come, its own)."""
        if self.summary is not None:
            summary = self.summary
            return summary.products_saved / summary.elapsed if summary.elapsed > 0 else 0.0
        saved = self.stages["saving"]
        return saved.done / self.elapsed if self.elapsed > 0 else 0.0

    def total(self, stage: str) -> int | None:
        """A stage's total once the plan makes it known; None before (shown as planning…)."""
        if not self.planned:
            return None
        if stage == "list_pages":
            return self.planned_pages
        products = self.expected.get("products_saved")
        if products is not None:
            return max(products, self.stages.get(stage, StageTally()).seen)
        return self.stages.get(stage, StageTally()).seen or None

    def eta(self) -> float | None:
        """Seconds left: remaining planned work over the rate observed so far (None until a
        rate is observed, or once the session has ended)."""
        if not self.planned or self.ended or self.elapsed <= 0:
            return None
        estimates: list[float] = []
        pages = self.stages["list_pages"]
        page_rate = self.pages_per_sec()
        if page_rate > 0 and self.planned_pages:
            remaining = max(self.planned_pages - pages.done - pages.failed, 0)
            estimates.append(remaining / page_rate)
        products = self.expected.get("products_saved")
        if products is not None:
            # Each product stage's own work left at its own rate: a product fetched is not yet
            # validated nor saved, and the slowest stage decides.
            for stage in ("product_details", "validation", "saving"):
                tally = self.stages[stage]
                rate = (tally.done + tally.failed) / self.elapsed
                left = max(products - tally.done - tally.failed, 0)
                if rate > 0:
                    estimates.append(left / rate)
                elif left and estimates:
                    estimates.append(estimates[-1])  # not started: at least as long as before
        return max(estimates) if estimates else None

    def retries(self) -> int:
        return sum(tally.retries for tally in self.stages.values())

    def render(self) -> Group:
        eta = self.eta()
        # Two short lines rather than one long one: the dashboard fits 80 columns.
        header = Text.assemble(
            ("trio-crawl ", "bold cyan"),
            (f"{self.status}{' (paused)' if self.paused else ''}", "bold"),
            f"  {self.elapsed:5.1f}s",
            f"  ETA {eta:4.0f}s" if eta is not None else "",
        )
        rates = Text(
            f"{self.pages_per_sec():6.1f} list pages/s  {self.products_per_sec():7.1f} products/s"
            f"  ({self.details_per_sec():.1f} fetched/s)  retries {self.retries()}"
        )
        table = Table(box=None, padding=(0, 1), header_style="dim")
        for column in ("stage", "progress", "done", "failed", "retries"):
            table.add_column(column, justify="left" if column in ("stage", "progress") else "right")
        for name, tally in self.stages.items():
            total = self.total(name)
            finished = tally.done + tally.failed
            table.add_row(
                name,
                ProgressBar(total=total or None, completed=finished, width=24),
                "planning…" if total is None else f"{tally.done}/{total}",
                Text(str(tally.failed), style="red" if tally.failed else ""),
                str(tally.retries),
            )
        parts: list[Any] = [header, rates, table]
        cancelled = sum(tally.cancelled for tally in self.stages.values())
        if cancelled:
            parts.append(Text(f"cancelled by the stop: {cancelled} (not failed)", style="dim"))
        parts.extend(Text(note, style="yellow") for note in self.notes)
        if self.lost:
            parts.append(Text(f"(dashboard skipped {self.lost} progress events)", style="dim"))
        return Group(*parts)


def summary_table(summary: SessionSummary) -> Table:
    """The final summary, as a table."""
    table = Table(title=f"crawl {summary.status}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows: Iterable[tuple[str, str]] = (
        ("status", summary.status),
        ("elapsed", f"{summary.elapsed:.2f}s"),
        ("pages ok", str(summary.pages_ok)),
        ("pages failed", str(summary.pages_failed)),
        ("products saved", str(summary.products_saved)),
        ("products failed", str(summary.products_failed)),
        *(
            (f"{what} cancelled", str(count))
            for what, count in (
                ("pages", summary.pages_cancelled),
                ("products", summary.products_cancelled),
            )
            if count
        ),
        ("retries", str(summary.retries)),
        ("list pages/s", f"{summary.pages_ok / summary.elapsed:.1f}" if summary.elapsed else "-"),
        (
            "products/s",
            f"{summary.products_saved / summary.elapsed:.1f}" if summary.elapsed else "-",
        ),
    )
    for row in rows:
        table.add_row(*row)
    kinds: dict[str, int] = {}
    for item in summary.failed_items:
        ended = "cancelled" if item.kind.value == "cancelled" else f"failed {item.stage}:"
        key = f"{ended} {item.stage}" if ended == "cancelled" else f"{ended} {item.kind.value}"
        kinds[key] = kinds.get(key, 0) + 1
    for key, count in sorted(kinds.items()):
        table.add_row(key, str(count))
    return table


async def run_dashboard(
    subscription: ev.Subscription, console: Console, *, refresh_secs: float = 0.25
) -> DashboardState:
    """Fold events into a live view until the session ends; return the final state."""
    from rich.live import Live

    state = DashboardState()
    with Live(state.render(), console=console, auto_refresh=False, transient=False) as live:
        async with trio.open_nursery() as nursery:

            async def redraw() -> None:
                while True:
                    await trio.sleep(refresh_secs)
                    live.update(state.render(), refresh=True)

            nursery.start_soon(redraw)
            async for event in subscription:
                state.apply(event)
            nursery.cancel_scope.cancel()
        live.update(state.render(), refresh=True)
    if not console.is_terminal:
        console.line()  # Live leaves the cursor after its last frame when not on a terminal
    return state
