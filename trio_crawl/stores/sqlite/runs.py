"""Crawl runs in SQLite: when a session started and how it ended, with the process that runs it
and its heartbeat (`stores.liveness` tells a live run from one whose process is gone)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Mapping
from typing import Any

from ...engine.results import ErrorKind, StageError
from .. import liveness
from ..schema import StoreOpenError
from .connection import Row, SqliteConnection, utc_timestamp


class SqliteRuns(SqliteConnection):
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

        def write(connection: sqlite3.Connection) -> None:
            liveness.mark_interrupted(connection, host, now)
            connection.execute(
                "INSERT INTO crawl_runs (session_id, status, started_at, config_json, pid,"
                " host, heartbeat_at) VALUES (:session_id, 'running', :started_at,"
                " :config_json, :pid, :host, :heartbeat_at)",
                params,
            )

        try:
            await self._write(write)
        except StageError as error:  # the crawl cannot start: say so as for a file refused
            if error.kind is ErrorKind.database_unusable:
                raise StoreOpenError(self._path, error.message) from error
            raise

    async def heartbeat(self, session_id: str) -> None:
        """Say that session `session_id` is alive (see `liveness`); raises `database_unusable`
        once the path no longer names the file that was opened."""
        await self._check_file()
        params = (utc_timestamp(), session_id)
        await self._run(
            lambda connection: connection.execute(
                "UPDATE crawl_runs SET heartbeat_at = ?, status = 'running'"
                " WHERE session_id = ? AND status IN ('running', 'interrupted')",
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
            "pages_ok": counts.get("pages_ok", 0),
            "pages_failed": counts.get("pages_failed", 0),
            "products_saved": counts.get("products_saved", 0),
            "products_failed": counts.get("products_failed", 0),
            "pages_cancelled": counts.get("pages_cancelled", 0),
            "products_cancelled": counts.get("products_cancelled", 0),
            "error_json": None if error is None else _to_json(error),
        }
        await self._check_file()
        updated = await self._run(
            lambda connection: (
                connection.execute(
                    "UPDATE crawl_runs SET status = :status, finished_at = :finished_at,"
                    " pages_ok = :pages_ok, pages_failed = :pages_failed,"
                    " products_saved = :products_saved, products_failed = :products_failed,"
                    " pages_cancelled = :pages_cancelled,"
                    " products_cancelled = :products_cancelled,"
                    " error_json = :error_json WHERE session_id = :session_id",
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
            lambda connection: [
                dict(row)
                for row in connection.execute(
                    "SELECT * FROM crawl_runs ORDER BY started_at, session_id"
                )
            ]
        )


def _to_json(value: Mapping[str, Any]) -> str:
    # default=str: a run record must not fail over one odd value (a Path, an enum, a datetime).
    return json.dumps(dict(value), sort_keys=True, default=str)
