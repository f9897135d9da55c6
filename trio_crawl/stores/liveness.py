"""Telling a run that is still going from one whose process is gone.

A killed process (SIGKILL, a power cut, an OOM kill) cannot record how its run ended, so its
`crawl_runs` row would say ``running`` for ever. Each run row therefore carries the pid and host
of its process and a heartbeat the session refreshes every `HEARTBEAT_SECS`. When a run starts,
every other ``running`` row is looked at: on this host, a pid that no longer runs (or is a
zombie) means the process is gone; on any host, a heartbeat older than `STALE_AFTER_SECS` does.
Such a row becomes ``interrupted``, with the counts of what its session did (from the ledger).

Two processes crawling one database at once both heartbeat, so neither marks the other.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timedelta

HEARTBEAT_SECS = 5.0
"""How often a running session refreshes its row's `heartbeat_at`."""

STALE_AFTER_SECS = 120.0
"""A heartbeat older than this means the run's process is gone, whatever its pid says (another
host's pid cannot be checked; a pid can be reused)."""


def process_gone(pid: int) -> bool:
    """Whether no live process has this pid on this host (a zombie counts as gone)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            # "pid (comm) state ...": the state follows the last ")".
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _stale(heartbeat: str | None, now: str) -> bool:
    if heartbeat is None:
        return True
    try:
        age = datetime.fromisoformat(now) - datetime.fromisoformat(heartbeat)
    except ValueError:
        return True
    return age > timedelta(seconds=STALE_AFTER_SECS)


def gone(pid: int | None, host: str | None, heartbeat: str | None, here: str, now: str) -> bool:
    """Whether a ``running`` row with this pid, host and heartbeat belongs to a gone process."""
    if _stale(heartbeat, now):
        return True
    return host == here and pid is not None and process_gone(pid)


_COUNTS = """
    SELECT
        COUNT(*) FILTER (WHERE item = 'page' AND state = 'done'),
        COUNT(*) FILTER (WHERE item = 'page' AND state IN ('failed', 'cancelled')),
        COUNT(*) FILTER (WHERE item = 'product' AND state = 'done'),
        COUNT(*) FILTER (WHERE item = 'product' AND state IN ('failed', 'cancelled'))
    FROM crawl_ledger WHERE session_id = ?
"""


def mark_interrupted(connection: sqlite3.Connection, here: str, now: str) -> list[str]:
    """Turn every ``running`` row of a gone process into ``interrupted`` with its session's
    counts; returns their session ids. Runs inside the caller's transaction."""
    rows = connection.execute(
        "SELECT session_id, pid, host, COALESCE(heartbeat_at, started_at) FROM crawl_runs"
        " WHERE status = 'running'"
    ).fetchall()
    marked = []
    for session_id, pid, host, heartbeat in rows:
        if not gone(pid, host, heartbeat, here, now):
            continue
        counts = connection.execute(_COUNTS, (session_id,)).fetchone()
        pages_ok, pages_failed, saved, failed = counts
        where = f"process {pid} on {host}" if pid is not None else "its process"
        reason = (
            f"interrupted: {where} ended without recording the run (last heartbeat {heartbeat})"
        )
        connection.execute(
            "UPDATE crawl_runs SET status = 'interrupted', finished_at = ?, pages_ok = ?,"
            " pages_failed = ?, products_saved = ?, products_failed = ?, error_json = ?"
            " WHERE session_id = ? AND status = 'running'",
            (
                heartbeat,
                pages_ok,
                pages_failed,
                saved,
                failed,
                json.dumps({"reason": reason}, sort_keys=True),
                session_id,
            ),
        )
        marked.append(session_id)
    return marked
