"""The page for a database with no crawl running: what `trio-crawl status` reads, in a browser.

It is the `status` read model (`trio_crawl.stores.read_status`), read again for each
page load and every few seconds while a page is open (a crawl elsewhere may be writing to the
file; the read model only reads, in one snapshot).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import trio

from ...stores import read_status
from ..status_text import status_lines
from .hub import Message

REFRESH_SECS = 5.0


class DatabaseView:
    """A page source over the database at `path`."""

    def __init__(self, path: str, refresh_secs: float = REFRESH_SECS) -> None:
        self.path = path
        self.refresh_secs = refresh_secs
        self.closing = trio.Event()
        self.reads = 0

    async def read(self) -> dict[str, Any]:
        status = await trio.to_thread.run_sync(read_status, self.path)
        self.reads += 1
        return {
            "mode": "database",
            "seq": self.reads,
            "database": status.to_dict(),
            "lines": status_lines(status),
        }

    async def stream(self, last_seen: int | None = None) -> AsyncIterator[Message]:
        last: dict[str, Any] | None = None
        while not self.closing.is_set():
            data = await self.read()
            if last is None or data["database"] != last["database"]:
                yield Message("snapshot", data["seq"], data)
                last = data
            with trio.move_on_after(self.refresh_secs):
                await self.closing.wait()

    def control(self, action: str) -> str:
        return "this page shows a database; there is no crawl to steer"

    def stats(self) -> dict[str, Any]:
        return {"streams": [], "reads": self.reads}
