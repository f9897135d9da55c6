"""`ErrorKind` and `StageError`: the words every part of trio_crawl fails in.

They are the engine's (`engine.results` tells the whole taxonomy and re-exports both) but live
outside its package, so that a site's parser, which raises them, imports neither trio nor the
actors: a parse process (`crawling.parsing`) starts with the site's modules alone.
"""

from __future__ import annotations

import enum
from typing import Any


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
    database_unusable = "database_unusable"
    """The database can take no more writes (disk full, read-only, its file deleted or
    replaced): nothing more can be saved, so the session fails at once, whatever the config."""
    configuration = "configuration"
    channel_closed = "channel_closed"
    internal = "internal"
    stage_timeout = "stage_timeout"
    cancelled = "cancelled"


class StageError(Exception):
    """Raised by an item handler to say why its item failed, in terms a retry policy understands.

    `status` is the HTTP status where there was one; `retry_after` (seconds) is the server's
    requested wait, which the retry calculator honours. `permanent` says that trying again
    cannot help (a page a site knows to be broken for good, a record it will always refuse):
    no policy retries it, whatever its kind.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message or kind.value)
        self.kind = kind
        self.message = message or kind.value
        self.status = status
        self.retry_after = retry_after
        self.permanent = permanent

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


def _unpickled(cls: type[StageError], args: tuple[Any, ...]) -> StageError:
    """A `StageError` (or subclass) rebuilt without its __init__; pickle then sets its state."""
    return cls.__new__(cls, *args)
