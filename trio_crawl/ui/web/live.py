"""What the web page knows about a running session, folded from its events (pure, no I/O).

The page is drawn from two kinds of message. *State* is what is true now (counts, stages,
batches, the chart, the status and the summary): a newer one replaces an older one, so a
client that falls behind may skip some. *Entries* are things that happened (a failure, a
retry scheduled, a pause, a stop, a config reload): each is kept in an ordered log with the
event's `seq`, appended to the page's lists in order and never skipped. A fresh page gets the
state with the last entries already in its lists (`snapshot`); a reconnecting one gets the
entries after the last `seq` it saw, then the state, and ends up with the same lists.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from ...engine import events as ev
from ...engine.summary import SessionSummary
from ..dashboard import DashboardState

FAILURES_KEPT = 200
"""Failures a page lists (the newest); the total counts all of them."""

RETRIES_KEPT = 50
NOTES_KEPT = 30
BATCHES_DONE_KEPT = 8
CHART_POINTS = 300
"""One a second: the chart shows the last five minutes."""

_LISTS = {"failure": ("failures", FAILURES_KEPT), "retry": ("retries", RETRIES_KEPT)}
"""Where each kind of entry goes on the page, and how many of them it keeps (else: notes)."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def summary_dict(summary: SessionSummary) -> dict[str, Any]:
    """The final summary as the page shows it (the CLI's table, plus the failures by kind)."""
    data = summary.describe()
    data.update(
        pages_ok=summary.pages_ok,
        pages_failed=summary.pages_failed,
        products_saved=summary.products_saved,
        products_failed=summary.products_failed,
        failures=summary.failures_by_kind(),
    )
    return data


class LiveView:
    """The page's state for one session. `apply` folds an event and returns the entry it
    adds to the log (None for progress); `tick` adds a chart point."""

    def __init__(self) -> None:
        self.dash = DashboardState()
        self.seq = 0
        self.started_wall: float | None = None
        self.active: dict[int, dict[str, Any]] = {}
        self.done_batches: deque[dict[str, Any]] = deque(maxlen=BATCHES_DONE_KEPT)
        self.lists: dict[str, deque[dict[str, Any]]] = {
            "failures": deque(maxlen=FAILURES_KEPT),
            "retries": deque(maxlen=RETRIES_KEPT),
            "notes": deque(maxlen=NOTES_KEPT),
        }
        self.failures_total = 0
        self.stop: dict[str, Any] | None = None
        self.summary: dict[str, Any] | None = None
        self.lost = 0
        self.chart: deque[tuple[float, float, float]] = deque(maxlen=CHART_POINTS)
        self._chart_last: tuple[float, int, int] | None = None

    # -- folding -------------------------------------------------------------------------

    def apply(self, event: ev.Event) -> dict[str, Any] | None:
        self.seq = event.seq
        if self.started_wall is None:
            self.started_wall = event.ts
        self.dash.apply(event)
        entry = self._entry(event)
        if entry is not None:
            entry["seq"], entry["ts"] = event.seq, event.ts
            self.add_entry(entry)
        return entry

    def add_entry(self, entry: dict[str, Any]) -> None:
        """Put an entry in its list, as the page does with one it receives."""
        name, _ = _LISTS.get(entry["type"], ("notes", NOTES_KEPT))
        self.lists[name].append(entry)
        if entry["type"] == "failure":
            self.failures_total += 1

    def _entry(self, event: ev.Event) -> dict[str, Any] | None:
        if isinstance(event, ev.ItemProgress):
            batch = self.active.get(event.batch_id)
            if batch is not None:
                batch["stage"] = event.stage
            return None
        if isinstance(event, ev.BatchStarted):
            self.active[event.batch_id] = {"id": event.batch_id, "items": event.items, "stage": ""}
        elif isinstance(event, ev.StageStarted):
            batch = self.active.get(event.batch_id)
            if batch is not None:
                batch["stage"] = event.stage
        elif isinstance(event, ev.BatchCompleted):
            self.active.pop(event.batch_id, None)
            self.done_batches.append(
                {
                    "id": event.batch_id,
                    "outcome": event.outcome,
                    "ok": event.items_ok,
                    "failed": event.items_failed,
                }
            )
        elif isinstance(event, ev.BatchFailed):
            self.active.pop(event.batch_id, None)
            self.done_batches.append(
                {"id": event.batch_id, "outcome": f"failed: {event.kind}", "ok": 0, "failed": 0}
            )
            return _note("batch", f"batch {event.batch_id} failed: {event.kind}: {event.message}")
        elif isinstance(event, ev.ItemFailed):
            return {
                "type": "failure",
                "item": event.item,
                "url": event.url,
                "stage": event.stage,
                "kind": event.kind,
                "attempts": event.attempts,
                "message": _one_line(event.message),
                "batch": event.batch_id,
            }
        elif isinstance(event, ev.StageRetrying):
            return {
                "type": "retry",
                "stage": event.stage,
                "batch": event.batch_id,
                "attempt": event.attempt,
                "delay": round(event.delay, 3),
                "kind": event.kind,
                "message": _one_line(event.reason),
            }
        elif isinstance(event, ev.SessionStarted):
            return _note("session", f"session {event.session_id} started")
        elif isinstance(event, ev.PlanReady):
            note = f"; {event.note}" if event.note else ""
            return _note("plan", f"planned {event.batches} batches, {event.items} items{note}")
        elif isinstance(event, ev.SessionPaused):
            return _note("paused", "paused: no new item starts; items in flight finish")
        elif isinstance(event, ev.SessionResumed):
            return _note("resumed", "resumed")
        elif isinstance(event, ev.StopRequested):
            self.stop = {
                "status": event.status,
                "reason": event.reason,
                "graceful": event.graceful,
                "grace_left": round(event.grace_left, 3),
            }
            how = "graceful" if event.graceful else "hard"
            return _note("stop", f"stop requested ({how}, {event.status}): {event.reason}")
        elif isinstance(event, ev.ConfigReloaded):
            changed = ", ".join(event.changed) or "no change"
            return _note("config", f"config reloaded from {event.path}: {changed}")
        elif isinstance(event, ev.ConfigRejected):
            return _note("config_rejected", f"config change rejected ({event.path}): {event.error}")
        elif isinstance(event, ev.EventsLost):
            self.lost += event.count
        elif isinstance(event, ev.SessionEnded):
            self.active.clear()
            summary = event.summary
            if isinstance(summary, SessionSummary):
                self.summary = summary_dict(summary)
            reason = f": {summary.reason}" if getattr(summary, "reason", "") else ""
            return _note("ended", f"session {event.status}{reason}")
        return None

    def tick(self, now: float) -> None:
        """One chart point: products fetched and errors (retries + failures) in the second
        since the last point."""
        fetched = self.dash.stages["product_details"]
        products = fetched.done + fetched.failed
        errors = self.dash.retries() + self.failures_total
        if self._chart_last is not None:
            then, products_then, errors_then = self._chart_last
            span = now - then
            if span < 0.5:
                return  # too short a span for a rate (the last point, at the session's end)
            elapsed = now - (self.started_wall or now)
            self.chart.append(
                (
                    round(elapsed, 1),
                    round((products - products_then) / span, 1),
                    round((errors - errors_then) / span, 1),
                )
            )
        self._chart_last = (now, products, errors)

    # -- views ---------------------------------------------------------------------------

    def state(self, now: float | None = None) -> dict[str, Any]:
        """What is true now (no lists of entries)."""
        dash = self.dash
        if not dash.ended:
            dash.now = time.time() if now is None else now
        eta = dash.eta()
        stages = []
        for name, tally in dash.stages.items():
            stages.append(
                {
                    "name": name,
                    "done": tally.done,
                    "failed": tally.failed,
                    "retries": tally.retries,
                    "total": dash.total(name),
                }
            )
        pages, saved = dash.stages["list_pages"], dash.stages["saving"]
        elapsed = self.summary["elapsed"] if self.summary is not None else dash.elapsed
        return {
            "mode": "live",
            "seq": self.seq,
            "session_id": dash.session_id,
            "status": dash.status,
            "paused": dash.paused,
            "ended": dash.ended,
            "elapsed": round(elapsed, 1),
            "eta": None if eta is None else round(eta, 1),
            "pages": {
                "done": pages.done,
                "failed": pages.failed,
                "planned": dash.total("list_pages"),
            },
            "products": {
                "done": saved.done,
                "failed": saved.failed,
                "planned": dash.total("saving"),
            },
            "products_per_s": round(dash.products_per_sec(), 1),
            "pages_per_s": round(dash.pages_per_sec(), 1),
            "retries": dash.retries(),
            "failures": self.failures_total,
            "stages": stages,
            "batches": {"active": list(self.active.values()), "done": list(self.done_batches)},
            "chart": [list(point) for point in self.chart],
            "stop": self.stop,
            "summary": self.summary,
            "lost": self.lost,
        }

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The state and the last entries of each list: what a fresh page starts from."""
        data = self.state(now)
        data["lists"] = {name: list(entries) for name, entries in self.lists.items()}
        return data


def _note(kind: str, text: str) -> dict[str, Any]:
    return {"type": "note", "kind": kind, "text": _one_line(text)}
