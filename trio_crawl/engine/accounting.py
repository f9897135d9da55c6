"""Giving up on items without losing them: every such place in the engine goes through `Lost`.

A stage that stops with items unfinished, a batch that skips its remaining stages, a child
actor that crashed or vanished, batches a stopping session never started: each turns the items
it gives up on into `FailedItem`s here, with one kind and one reason, so that every item of a
session ends either done or in the summary's `failed_items`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .results import (
    ErrorKind,
    FailedItem,
    FatalError,
    Interrupted,
    StageError,
    StageResult,
    StageStats,
)


@attrs.frozen
class Lost:
    """Why some items will not finish."""

    kind: ErrorKind
    reason: str

    def item(self, item: Any, stage: str, attempts: int = 0, note: str = "") -> FailedItem:
        message = f"{self.reason}; {note}" if note else self.reason
        return FailedItem(item, stage, self.kind, attempts, message)

    def items(self, items: Iterable[Any], stage: str) -> tuple[FailedItem, ...]:
        return tuple(self.item(item, stage) for item in items)

    def error(self) -> StageError:
        return StageError(self.kind, self.reason)

    def result(self, items: Sequence[Any], stage: str, context: str = "") -> StageResult:
        """The report of a stage that did nothing with `items`: an interruption when it was
        stopped (cancelled, out of time), a fatal error when it broke."""
        failed = self.items(items, stage)
        stats = StageStats(len(items), 0, len(failed))
        if self.kind in (ErrorKind.cancelled, ErrorKind.stage_timeout):
            return Interrupted(self.error(), stats, (), failed)
        return FatalError(self.error(), context or stage, stats, (), failed)


NOT_STARTED = "not started: the session is stopping"
