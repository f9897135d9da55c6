"""The command's logging: stderr at the chosen loudness, and with ``--log-file`` one line per
record and per session event, each stamped with the session's id."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import attrs

from ..engine.events import Event, ItemFailed, Subscription

log = logging.getLogger("trio_crawl")
event_log = logging.getLogger("trio_crawl.events")


class _SessionId(logging.Filter):
    """Stamps every record with the session's id (`-` until the session has started)."""

    def __init__(self) -> None:
        super().__init__()
        self.session_id = "-"

    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = self.session_id
        return True


session_id_filter = _SessionId()


def setup_logging(verbose: bool, quiet: bool, log_file: Path | None) -> None:
    """stderr gets warnings (-q), info (default) or batch detail too (-v); `log_file` gets
    every record, session events included, one line each with timestamp, level, session id."""
    log.handlers.clear()
    event_log.handlers.clear()
    log.setLevel(logging.DEBUG)
    log.propagate = False
    event_log.propagate = False  # events go to the file only, never to stderr
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    stderr.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(stderr)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s session=%(session_id)s %(message)s")
        )
        handler.addFilter(session_id_filter)
        log.addHandler(handler)
        event_log.addHandler(handler)
        event_log.setLevel(logging.DEBUG)
    else:
        event_log.setLevel(logging.CRITICAL + 1)


def describe_event(event: Event) -> str:
    """One line for one event: its type and fields (not seq, ts or the summary object)."""
    fields = attrs.asdict(event, recurse=False)
    parts = [
        f"{key}={' '.join(str(value).split())}"
        for key, value in fields.items()
        if key not in ("seq", "ts", "summary")
    ]
    return " ".join([type(event).__name__, f"seq={event.seq}", *parts])


async def log_events(subscription: Subscription) -> None:
    """The logging subscriber: one log-file line per session event."""
    async for event in subscription:
        # A given-up item is the one event an operator must see: its reason is logged here.
        level = logging.WARNING if isinstance(event, ItemFailed) else logging.INFO
        event_log.log(level, "%s", describe_event(event))
