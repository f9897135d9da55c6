"""The store as a distributed crawl's sessions see it: one crawl, one `crawl_runs` row.

A distributed crawl runs one session to plan, one per batch in the workers, and one to settle;
each recording a run of its own would show hundreds of runs for what the user started as one
crawl. Every session of a round runs under the round's crawl id (the ledger's rows name it)
through `CrawlPart`, which passes every call to the store but the run's own: the planning
session starts the row (and records its end only when planning did not succeed), the other
sessions record nothing, the workers keep the row's heartbeat, and the party that concludes the
crawl records how the whole crawl ended (`ending.record_run`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class CrawlPart:
    """`store` for one session of a distributed crawl (see the module docstring)."""

    def __init__(self, store: Any, *, planning: bool = False) -> None:
        self._store = store
        self._planning = planning

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"CrawlPart({self._store!r}, planning={self._planning})"

    async def start_run(self, session_id: str, config: Mapping[str, Any]) -> None:
        if self._planning:
            await self._store.start_run(session_id, config)

    async def finish_run(
        self,
        session_id: str,
        status: str,
        counts: Mapping[str, int],
        error: Mapping[str, Any] | None = None,
    ) -> None:
        # A plan that succeeded leaves the row running: the crawl has only begun.
        if self._planning and status != "completed":
            await self._store.finish_run(session_id, status, counts, error)

    async def heartbeat(self, session_id: str) -> None:
        if self._planning:
            await self._store.heartbeat(session_id)
