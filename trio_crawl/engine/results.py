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
    ├── configuration         —
    ├── channel_closed        —   (a child exited without reporting)
    ├── internal              —   (an unexpected exception inside a handler or actor)
    ├── stage_timeout         —   (the stage's deadline passed before the item finished)
    └── cancelled             —   (the session was cancelled or shut down before the item finished)

Item handlers raise `StageError`; any other exception becomes `internal`. Across actor
boundaries only `StageResult` values travel, never exceptions.
"""

from __future__ import annotations

import enum
from typing import Any, TypeAlias

import attrs


class ErrorKind(enum.Enum):
    """Why an item or a stage failed; retry policies name these."""

    network_timeout = "network_timeout"
    network_error = "network_error"
    server_error = "server_error"
    rate_limited = "rate_limited"
    client_error = "client_error"
    robots_refused = "robots_refused"
    """The site's rules (robots.txt) forbid the item; a crawl refuses it without asking."""
    parse_error = "parse_error"
    validation_error = "validation_error"
    database_busy = "database_busy"
    database_error = "database_error"
    configuration = "configuration"
    channel_closed = "channel_closed"
    internal = "internal"
    stage_timeout = "stage_timeout"
    cancelled = "cancelled"


class StageError(Exception):
    """Raised by an item handler to say why its item failed, in terms a retry policy understands.

    `status` is the HTTP status where there was one; `retry_after` (seconds) is the server's
    requested wait, which the retry calculator honours.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or kind.value)
        self.kind = kind
        self.message = message or kind.value
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception pickles as type(*args), which would lose the kind (and call a subclass's
        # __init__ with the wrong arguments): a page parsed in another process
        # (`crawling.parsing`) sends its StageError back whole, attributes and all.
        return (_unpickled, (type(self), self.args), self.__dict__)

    def __repr__(self) -> str:
        extra = f", status={self.status}" if self.status is not None else ""
        return f"StageError({self.kind.value}, {self.message!r}{extra})"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for summaries and the crawl_runs table."""
        return {"kind": self.kind.value, "message": self.message, "status": self.status}

    @classmethod
    def from_exception(cls, exc: BaseException) -> StageError:
        """Wrap an unexpected exception as an `internal` error that keeps it as the cause."""
        if isinstance(exc, StageError):
            return exc
        error = cls(ErrorKind.internal, f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error


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
    (DESIGN §4 called this `RecoverableError`, with `attempts` and `retry_after` fields that
    nothing could fill in: an interruption is not an error of the stage's own.)
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


def _unpickled(cls: type[StageError], args: tuple[Any, ...]) -> StageError:
    """A `StageError` (or subclass) rebuilt without its __init__; pickle then sets its state."""
    return cls.__new__(cls, *args)
