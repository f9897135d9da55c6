"""What every actor of one session shares: settings in force, events, jitter, limits, control."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .control import SessionControl
from .events import EventBus, ItemFailed, StageRetrying
from .results import FailedItem, StageError
from .retry import RetryCalculator
from .settings import EngineSettings
from .slots import Slots


class Runtime:
    """One session's shared state. `settings` is replaced whole by `reconfigure`; readers look
    at it at each attempt or stage start, so a change applies from the next one, and each stage
    key's one `Slots` (shared by all batches in flight, so a limit holds across
    them) is resized at once."""

    __slots__ = (
        "_announced",
        "_limiters",
        "bus",
        "control",
        "late_errors",
        "rng",
        "settings",
        "version",
    )

    def __init__(
        self,
        settings: EngineSettings,
        bus: EventBus,
        rng: random.Random,
        control: SessionControl | None = None,
    ) -> None:
        self.settings = settings
        self.version = 0
        self.bus = bus
        self.rng = rng
        self.control = control if control is not None else SessionControl(settings.grace_secs, bus)
        self._limiters: dict[str, Slots] = {}
        self.late_errors: list[BaseException] = []
        """Failures actors raised after they had reported (see `actor`)."""
        self._announced: dict[int, FailedItem] = {}

    def reconfigure(self, settings: EngineSettings) -> None:
        """Put `settings` in force: limits at once, everything else from the next use."""
        self.settings = settings
        self.version += 1
        self.control.stopping.grace_secs = settings.grace_secs
        for key, limiter in self._limiters.items():
            limiter.total = settings.for_stage(key).limit

    def limiter(self, key: str) -> Slots:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = Slots(self.settings.for_stage(key).limit)
            self._limiters[key] = limiter
        return limiter

    def retry_delay(
        self, key: str, stage: str, batch_id: int, error: StageError, attempts: int
    ) -> float | None:
        """Seconds to wait before retrying after `error` on attempt `attempts`, under the
        policy in force for `key` (announced as `StageRetrying`); None when it is not retried."""
        settings = self.settings
        calculator = RetryCalculator(
            settings.for_stage(key).policy,
            self.rng,
            max_retry_after_secs=settings.max_retry_after_secs,
        )
        if error.permanent or not calculator.should_retry(error.kind, attempts):
            return None
        delay = calculator.delay(attempts, error.retry_after)
        self.bus.emit(
            StageRetrying, batch_id, stage, attempts + 1, delay, error.kind.value, error.message
        )
        return delay

    def gave_up(self, batch_id: int, failed: Iterable[FailedItem]) -> None:
        """Announce each of `failed` as `ItemFailed`, once. Every level that passes failed
        items up calls this, so an item is announced where it is first known, and the
        session's own call catches any a lower level could not report; the same object is
        never announced twice (they are kept here, so no id is reused meanwhile)."""
        announced = self._announced
        for item in failed:
            if id(item) in announced:
                continue
            announced[id(item)] = item
            url = item.url
            self.bus.emit(
                ItemFailed,
                batch_id,
                item.stage,
                url if url is not None else repr(item.item),
                url,
                item.kind.value,
                item.attempts,
                item.last_error,
            )
