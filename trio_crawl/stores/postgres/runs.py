"""Crawl runs in PostgreSQL: when a session started and how it ended, with the process that runs
it and its heartbeat (`stores.liveness` tells a live run from one whose process is gone)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

from ...engine.results import ErrorKind, StageError
from .. import liveness
from ..schema import StoreOpenError
from .connection import Connection, PostgresConnection, Row, utc_timestamp


class PostgresRuns(PostgresConnection):
    """The `crawl_runs` table's calls on the store's connection."""

    async def start_run(self, session_id: str, config: Mapping[str, Any]) -> None:
        """Record that session `session_id` started, with the config it runs under, this
        process's pid and host, and a first heartbeat. Runs left `running` by a process that is
        gone (or silent for `liveness.STALE_AFTER_SECS`) become `interrupted` first."""
        now = utc_timestamp()
        host = socket.gethostname()
        params = {
            "session_id": session_id,
            "started_at": now,
            "config_json": _to_json(config),
            "pid": os.getpid(),
            "host": host,
            "heartbeat_at": now,
        }

        def write(connection: Connection) -> None:
            mark_interrupted(connection, host, now)
            connection.execute(
                "INSERT INTO crawl_runs (session_id, status, started_at, config_json, pid,"
                " host, heartbeat_at) VALUES (%(session_id)s, 'running', %(started_at)s,"
                " %(config_json)s, %(pid)s, %(host)s, %(heartbeat_at)s)",
                params,
            )

        try:
            await self._write(write)
        except StageError as error:  # the crawl cannot start: say so as for a database refused
            if error.kind is ErrorKind.database_unusable:
                raise StoreOpenError(self._path, error.message) from error
            raise

    async def heartbeat(self, session_id: str) -> None:
        """Say that session `session_id` is alive (see `liveness`)."""
        params = (utc_timestamp(), session_id)
        await self._run(
            lambda connection: connection.execute(
                "UPDATE crawl_runs SET heartbeat_at = %s, status = 'running'"
                " WHERE session_id = %s AND status IN ('running', 'interrupted')",
                params,
            )
        )

    async def finish_run(
        self,
        session_id: str,
        status: str,
        counts: Mapping[str, int],
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how session `session_id` ended. Missing counts are 0; `error` is stored as
        JSON. Raises `database_error` when the run was never started."""
        params = {
            "session_id": session_id,
            "status": status,
            "finished_at": utc_timestamp(),
            **{name: counts.get(name, 0) for name in _COUNTS},
            "error_json": None if error is None else _to_json(error),
        }
        updated = await self._run(
            lambda connection: (
                connection.execute(
                    "UPDATE crawl_runs SET status = %(status)s, finished_at = %(finished_at)s,"
                    + ", ".join(f" {name} = %({name})s" for name in _COUNTS)
                    + ", error_json = %(error_json)s WHERE session_id = %(session_id)s",
                    params,
                ).rowcount
            )
        )
        if updated == 0:
            raise StageError(ErrorKind.database_error, f"no crawl run {session_id!r} to finish")

    # -- reads for tests and the CLI ---------------------------------------------------------

    async def runs(self) -> list[Row]:
        """Every crawl_runs row, in the order the runs started."""
        return await self._run(
            lambda connection: list(
                connection.execute("SELECT * FROM crawl_runs ORDER BY started_at, session_id")
            )
        )


_COUNTS = (
    "pages_ok",
    "pages_failed",
    "products_saved",
    "products_failed",
    "pages_cancelled",
    "products_cancelled",
)

_SESSION_COUNTS = """
    SELECT
        COUNT(*) FILTER (WHERE item = 'page' AND state = 'done') AS pages_ok,
        COUNT(*) FILTER (WHERE item = 'page' AND state IN ('failed', 'cancelled')) AS pages_failed,
        COUNT(*) FILTER (WHERE item = 'product' AND state = 'done') AS products_saved,
        COUNT(*) FILTER (WHERE item = 'product' AND state IN ('failed', 'cancelled'))
            AS products_failed
    FROM crawl_ledger WHERE session_id = %s
"""


def mark_interrupted(connection: Connection, here: str, now: str) -> list[str]:
    """Turn every ``running`` row of a gone process into ``interrupted`` with its session's
    counts; returns their session ids. Runs inside the caller's transaction; the rows looked
    at are locked (``SKIP LOCKED``: a run another starter is marking is its to mark)."""
    rows = connection.execute(
        "SELECT session_id, pid, host, COALESCE(heartbeat_at, started_at) AS heartbeat"
        " FROM crawl_runs WHERE status = 'running' FOR UPDATE SKIP LOCKED"
    ).fetchall()
    marked = []
    for row in rows:
        pid, host, heartbeat = row["pid"], row["host"], row["heartbeat"]
        if not liveness.gone(pid, host, heartbeat, here, now):
            continue
        counts = connection.execute(_SESSION_COUNTS, (row["session_id"],)).fetchone()
        assert counts is not None
        where = f"process {pid} on {host}" if pid is not None else "its process"
        reason = (
            f"interrupted: {where} ended without recording the run (last heartbeat {heartbeat})"
        )
        connection.execute(
            "UPDATE crawl_runs SET status = 'interrupted', finished_at = %(finished_at)s,"
            " pages_ok = %(pages_ok)s, pages_failed = %(pages_failed)s,"
            " products_saved = %(products_saved)s, products_failed = %(products_failed)s,"
            " error_json = %(error_json)s WHERE session_id = %(session_id)s"
            " AND status = 'running'",
            {
                **counts,
                "finished_at": heartbeat,
                "error_json": json.dumps({"reason": reason}, sort_keys=True),
                "session_id": row["session_id"],
            },
        )
        marked.append(row["session_id"])
    return marked


def _to_json(value: Mapping[str, Any]) -> str:
    # default=str: a run record must not fail over one odd value (a Path, an enum, a datetime).
    return json.dumps(dict(value), sort_keys=True, default=str)
