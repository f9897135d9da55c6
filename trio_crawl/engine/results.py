"""What can go wrong in a crawl, and how a stage reports it.

One picture of the whole taxonomy (cf. httpx's exception tree)::

    StageResult                       reported once per stage/batch through a one-shot
    ├── Success(stats, outputs)
    ├── PartialSuccess(stats, outputs, failed_items)
    ├── Interrupted(error, stats, outputs, failed_items)    stopped before every item finished
    │                                                        (stage timeout, cancel, shutdown)
    └── FatalError(error, context, ...)                      the stage or actor failed

    ErrorKind                 retried by default in stage …
    ├── network_timeout       list_pages, product_details
    ├── network_error         list_pages, product_details
    ├── server_error          list_pages, product_details      (5xx, carries the status)
    ├── rate_limited          list_pages, product_details      (429/503, honours Retry-After)
    ├── client_error          —                                 (other 4xx)
    ├── robots_refused        —   never: the site's robots.txt forbids the item, so it was
    │                              refused before it was asked for (asking again cannot help)
    ├── parse_error           product_details, status_check
    ├── validation_error      validation
    ├── database_busy         saving
    ├── database_error        —   (fatal for the session when abort_on_database_error)
    ├── database_unusable     —   fatal for the session (disk full, read-only, file replaced)
    ├── configuration         —
    ├── channel_closed        —   (a child exited without reporting)
    ├── internal              —   (an unexpected exception inside a handler or actor)
    ├── stage_timeout         —   (the stage's deadline passed before the item finished)
    └── cancelled             —   (the session was cancelled or shut down before the item finished)

Item handlers raise `StageError`; any other exception becomes `internal`. Across actor
boundaries only `StageResult` values travel, never exceptions.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from ..errors import ErrorKind as ErrorKind
from ..errors import StageError as StageError


@attrs.frozen
class FailedItem:
    """An item that a stage gave up on, with the last reason; nothing is dropped silently."""

    item: Any
    stage: str
    kind: ErrorKind
    attempts: int
    last_error: str

    @property
    def url(self) -> str | None:
        """The item's `url`, for items that have one (a page or a product), else None."""
        url = getattr(self.item, "url", None)
        return url if isinstance(url, str) else None


@attrs.frozen
class StageStats:
    """Counts for one stage (or, summed, for one batch)."""

    items_in: int = 0
    items_ok: int = 0
    items_failed: int = 0
    retries: int = 0
    elapsed: float = 0.0
    by_stage: tuple[tuple[str, StageStats], ...] = ()
    """For a batch: each stage's own stats, in the order the stages ran."""

    def __add__(self, other: StageStats) -> StageStats:
        return StageStats(
            self.items_in + other.items_in,
            self.items_ok + other.items_ok,
            self.items_failed + other.items_failed,
            self.retries + other.retries,
            self.elapsed + other.elapsed,
        )


@attrs.frozen
class Success:
    stats: StageStats
    outputs: tuple[Any, ...] = ()


@attrs.frozen
class PartialSuccess:
    stats: StageStats
    outputs: tuple[Any, ...]
    failed_items: tuple[FailedItem, ...]


@attrs.frozen
class Interrupted:
    """The stage was stopped (its deadline, a cancel, a shutdown) before every item finished.

    What it did finish is in `outputs`; the rest is in `failed_items`, so nothing is lost.
    (The first design called this `RecoverableError`, with `attempts` and `retry_after` fields
    that nothing could fill in: an interruption is not an error of the stage's own.)
    """

    error: StageError
    stats: StageStats = StageStats()
    outputs: tuple[Any, ...] = ()
    failed_items: tuple[FailedItem, ...] = ()

    @property
    def kind(self) -> ErrorKind:
        return self.error.kind


@attrs.frozen
class FatalError:
    """The stage or actor could not do its job: a crash, a lost child, or an aborting error."""

    error: StageError
    context: str = ""
    stats: StageStats = StageStats()
    outputs: tuple[Any, ...] = ()
    failed_items: tuple[FailedItem, ...] = ()

    @property
    def kind(self) -> ErrorKind:
        return self.error.kind


StageResult: TypeAlias = Success | PartialSuccess | Interrupted | FatalError


def fatal(kind: ErrorKind, context: str, cause: BaseException | None = None) -> FatalError:
    """Build a `FatalError`, keeping `cause` as the error's `__cause__`."""
    error = StageError(kind, f"{context}: {cause!r}" if cause is not None else context)
    error.__cause__ = cause
    return FatalError(error=error, context=context)
