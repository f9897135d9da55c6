"""What a session did (`SessionSummary`), and the account that decides its status.

The status is decided in one place, `SessionAccount.summary`, in this order:

    failed      planning failed, the session actor broke, or an aborting failure stopped it
    cancelled   a stop (Cancel, Shutdown, the caller's block raising, KeyboardInterrupt)
    timed_out   the session deadline stopped it
    failed      the plan said what it expected (say, 360 products saved) and nothing of it
                happened while some failure might pass, or less happened and no failed item
                explains the gap
    partial     some items failed (each is in `failed_items`), an actor failed after
                reporting, or the plan's `settle` found the work overtaken (the reason says how)
    completed   everything planned happened, and the plan's expected counts were reached
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from .accounting import Lost
from .control import StopRequest
from .results import ErrorKind, FailedItem, FatalError, StageError, StageResult, StageStats, Success
from .stage import Stage

FOR_GOOD = frozenset({ErrorKind.client_error, ErrorKind.parse_error, ErrorKind.validation_error})
"""Failures a rerun meets again as they were (not a fault that passes)."""

SessionStatus = Literal["completed", "partial", "cancelled", "timed_out", "failed"]


@attrs.frozen
class SessionSummary:
    """What a session did. `counts` holds the counters its stages feed (see `Stage.count_ok`);
    `expected` the counts its plan promised (a session that did not reach them is not
    `completed`)."""

    session_id: str
    status: SessionStatus
    elapsed: float
    counts: Mapping[str, int]
    stages: Mapping[str, StageStats]
    failed_items: tuple[FailedItem, ...]
    retries: int
    batches_planned: int
    batches_run: int
    batches_failed: int
    reason: str = ""
    error: StageError | None = None
    expected: Mapping[str, int] = attrs.field(factory=dict)
    note: str = ""
    """What the plan said about the work it left for later (e.g. pages beyond a range limit)."""

    @property
    def pages_ok(self) -> int:
        return self.counts.get("pages_ok", 0)

    @property
    def pages_failed(self) -> int:
        return self.counts.get("pages_failed", 0)

    @property
    def products_saved(self) -> int:
        return self.counts.get("products_saved", 0)

    @property
    def products_failed(self) -> int:
        return self.counts.get("products_failed", 0)

    @property
    def pages_cancelled(self) -> int:
        return self.counts.get("pages_cancelled", 0)

    @property
    def products_cancelled(self) -> int:
        return self.counts.get("products_cancelled", 0)

    def failures_by_kind(self, first: int = 3) -> dict[str, Any]:
        """The failed items grouped by error kind: how many, in which stages, and the URLs of
        the `first` few (for items that have one), in the order they failed."""
        by_kind: dict[str, dict[str, Any]] = {}
        for failed in self.failed_items:
            group = by_kind.setdefault(
                failed.kind.value, {"count": 0, "stages": {}, "first_urls": []}
            )
            group["count"] += 1
            group["stages"][failed.stage] = group["stages"].get(failed.stage, 0) + 1
            if failed.url is not None and len(group["first_urls"]) < first:
                group["first_urls"].append(failed.url)
        return {"total": len(self.failed_items), "by_kind": by_kind}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready form, for the crawl_runs table, the CLI and logs."""
        return {
            "session_id": self.session_id,
            "status": self.status,
            "elapsed": round(self.elapsed, 3),
            "counts": dict(self.counts),
            "expected": dict(self.expected),
            "retries": self.retries,
            "batches": {
                "planned": self.batches_planned,
                "run": self.batches_run,
                "failed": self.batches_failed,
            },
            "reason": self.reason,
            "note": self.note,
            "error": self.error.describe() if self.error is not None else None,
            "failed_items": len(self.failed_items),
        }


def cancelled_counter(failed_counter: str) -> str:
    """The counter of the items a stop cancelled beside `failed_counter` ("products_failed" →
    "products_cancelled")."""
    return failed_counter.removesuffix("_failed") + "_cancelled"


class SessionAccount:
    """Folds every batch's report (and every batch that never ran) into the summary."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self._stages = stages
        self._by_name = {stage.name: stage for stage in stages}
        self._failed: list[FailedItem] = []
        self._stage_stats: dict[str, StageStats] = {}
        self._counts: dict[str, int] = {}
        self._retries = 0
        self.planned = 0
        self.expected: Mapping[str, int] = {}
        self.note = ""
        self._run = 0
        self._batches_failed = 0
        self.failure: tuple[str, StageError] | None = None
        """(reason, error) when the session itself failed: planning, a crash, an abort."""
        self.unsettled = ""
        """What the plan's `settle` found overtaken ("" when nothing was)."""

    def fail(self, reason: str, error: StageError) -> None:
        if self.failure is None:
            self.failure = (reason, error)

    def absorb(self, result: StageResult) -> None:
        """One batch's report."""
        self._run += 1
        stats = result.stats
        self._retries += stats.retries
        if not isinstance(result, Success):
            self._failed.extend(result.failed_items)
        if isinstance(result, FatalError):
            self._batches_failed += 1
        for name, stage_stats in stats.by_stage:
            self._stage_stats[name] = self._stage_stats.get(name, StageStats()) + stage_stats
            stage = self._by_name.get(name)
            if stage is None:
                continue
            if stage.count_ok:
                self._add(stage.count_ok, stage_stats.items_ok)
            if stage.count_failed:
                # An item a stop cut short was cancelled, not failed: counted apart.
                cancelled = (
                    sum(
                        1
                        for item in result.failed_items
                        if item.stage == name and item.kind is ErrorKind.cancelled
                    )
                    if not isinstance(result, Success)
                    else 0
                )
                self._add(stage.count_failed, stage_stats.items_failed - cancelled)
                if cancelled:
                    self._add(cancelled_counter(stage.count_failed), cancelled)

    def not_run(self, items: Sequence[Any], lost: Lost) -> tuple[FailedItem, ...]:
        """A batch that never ran (the session stopped first): its items end here (and are
        returned)."""
        if not self._stages:
            return ()
        failed = lost.items(items, self._stages[0].name)
        self._failed.extend(failed)
        return failed

    def _add(self, counter: str, value: int) -> None:
        self._counts[counter] = self._counts.get(counter, 0) + value

    def summary(
        self,
        session_id: str,
        elapsed: float,
        stop: StopRequest | None,
        late_errors: Sequence[BaseException] = (),
    ) -> SessionSummary:
        status, reason, error = self._status(stop)
        if late_errors:
            note = "; ".join(f"raised after reporting: {exc!r}" for exc in late_errors)
            reason = f"{reason}; {note}" if reason else note
            if error is None:
                error = StageError.from_exception(late_errors[0])
            if status == "completed":
                status = "partial"
        return SessionSummary(
            session_id=session_id,
            status=status,
            elapsed=elapsed,
            counts=dict(self._counts),
            stages=dict(self._stage_stats),
            failed_items=tuple(self._failed),
            retries=self._retries,
            batches_planned=self.planned,
            batches_run=self._run,
            batches_failed=self._batches_failed,
            reason=reason,
            error=error,
            expected=dict(self.expected),
            note=self.note,
        )

    def _status(self, stop: StopRequest | None) -> tuple[SessionStatus, str, StageError | None]:
        if self.failure is not None:
            reason, error = self.failure
            return "failed", reason, error
        if stop is not None:
            return stop.status, stop.reason, None
        short = [
            (counter, wanted, self._counts.get(counter, 0))
            for counter, wanted in self.expected.items()
            if self._counts.get(counter, 0) < wanted
        ]
        for counter, wanted, got in short:
            # Nothing done and a fault that might pass (a site down, a network gone) is a
            # failed session; items that failed for good (a dead link, a page broken for good,
            # a record refused) explain the gap: a rerun left only those is `partial`.
            transient = any(item.kind not in FOR_GOOD for item in self._failed)
            if not self._failed or (got == 0 and transient):
                unexplained = "" if self._failed else ", and no failed item explains it"
                return "failed", f"expected {wanted} {counter}, got {got}{unexplained}", None
        if self._failed or self._batches_failed or self.unsettled:
            return "partial", self.unsettled, None
        return "completed", "", None
