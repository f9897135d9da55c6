"""The web page of a whole Redis-shared crawl: every worker's events merged (`trio-crawl web
--db … --redis … --queue …`), and pause, resume and cancel sent to every worker.

`CrawlFold` folds the records the workers publish (`distributed/events.py`) into counts per
worker and for the whole crawl, with no I/O, so it is tested directly. `CrawlView` is the
page's source (`trio_crawl.ui.web.app.PageSource`): it follows the events stream and the
control stream, reads the queue's progress and the store's status now and then (what is
stored, whoever stored it), and
sends the page a new snapshot when something changed, at most one per `update_secs`.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import coredis
import trio

from ..stores import StoreOpenError, read_status
from ..ui.status_text import status_lines
from ..ui.web.hub import Message
from .control import ControlChannel, CrawlState
from .queue import WorkQueue

COUNTS = ("pages_ok", "pages_failed", "products_saved", "products_failed", "retries")
RECENT_KEPT = 50
ENDS = {"SessionCompleted", "SessionCancelled", "SessionFailed", "SessionTimedOut"}


@attrs.define
class WorkerRow:
    """One worker as its events show it."""

    name: str
    state: str = "idle"
    batches: int = 0
    events: int = 0
    last_seen: float = 0.0
    counts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(COUNTS, 0))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class CrawlFold:
    """The whole crawl from its workers' event records: per worker, totals, recent notes."""

    def __init__(self) -> None:
        self.workers: dict[str, WorkerRow] = {}
        self.totals: dict[str, int] = dict.fromkeys((*COUNTS, "batches"), 0)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_KEPT)
        self.events = 0
        self._seen: set[tuple[str, str]] = set()

    def apply(self, record: dict[str, str]) -> None:
        """Fold one record; one already folded (a write Redis took twice) changes nothing."""
        key = (record.get("session", ""), record.get("seq", ""))
        if key in self._seen:
            return
        self._seen.add(key)
        name, kind = record["worker"], record["type"]
        data = json.loads(record.get("data", "{}"))
        ts = float(record.get("ts", 0.0))
        worker = self.workers.setdefault(name, WorkerRow(name))
        worker.events += 1
        worker.last_seen = max(worker.last_seen, ts)
        self.events += 1
        if kind == "SessionStarted":
            worker.state = "working"
        elif kind == "SessionPaused":
            worker.state = "paused"
        elif kind == "SessionResumed":
            worker.state = "working"
        elif kind in ENDS:
            worker.state = "idle"
            worker.batches += 1
            self.totals["batches"] += 1
            for count in COUNTS:
                worker.counts[count] += int(data.get(count, 0))
                self.totals[count] += int(data.get(count, 0))
            if data.get("status") not in ("completed", "partial"):
                reason = f": {data['reason']}" if data.get("reason") else ""
                self._note(name, ts, f"batch session {data.get('status')}{reason}")
        elif kind == "ItemFailed":
            what = data.get("url") or data.get("item")
            self._note(name, ts, f"gave up on {what} ({data.get('stage')}: {data.get('kind')})")
        elif kind == "StopRequested":
            self._note(name, ts, f"stop requested: {data.get('reason')}")
        elif kind == "BatchFailed":
            self._note(name, ts, f"batch failed: {data.get('kind')}: {data.get('message')}")

    def _note(self, worker: str, ts: float, text: str) -> None:
        self.recent.append({"worker": worker, "ts": ts, "text": " ".join(text.split())})

    def snapshot(self) -> dict[str, Any]:
        return {
            "workers": [self.workers[name].to_dict() for name in sorted(self.workers)],
            "totals": dict(self.totals),
            "recent": list(self.recent),
            "events": self.events,
        }


class CrawlView:
    """The page source for the crawl `prefix` on `client`, whose store is `db`."""

    def __init__(
        self,
        client: coredis.Redis[str],
        prefix: str,
        db: str,
        *,
        update_secs: float = 0.25,
        status_secs: float = 5.0,
        block_ms: int = 1000,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.db = db
        self.events_key = f"{prefix}:events"
        self.channel = ControlChannel(client, prefix)
        self.fold = CrawlFold()
        self.control_state = CrawlState()
        self.status_lines: list[str] = []
        self.progress: dict[str, Any] = {}
        self.queue = WorkQueue(client, prefix)
        self.update_secs = update_secs
        self.status_secs = status_secs
        self.block_ms = block_ms
        self.version = 0
        self.closing = trio.Event()
        self.sent = 0
        self._changed = trio.Event()
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow the crawl until cancelled (the page may be served once this has started)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.channel.follow, self._control_changed)
            await self._read_status()
            nursery.start_soon(self._follow_events)
            nursery.start_soon(self._refresh_status)
            task_status.started()
            await trio.sleep_forever()

    def _bump(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def _control_changed(self, state: CrawlState) -> None:
        self.control_state = state
        self._bump()

    async def _follow_events(self) -> None:
        cursor = "0-0"  # what the capped stream still holds, then what comes
        while True:
            read = await self.client.xread(
                {self.events_key: cursor}, count=500, block=self.block_ms
            )
            entries = () if not read else read.get(self.events_key, ())
            for entry in entries:
                cursor = str(entry.identifier)
                self.fold.apply({str(k): str(v) for k, v in entry.field_values.items()})
            if entries:
                self._bump()

    async def _read_status(self) -> None:
        progress = await self.queue.progress()
        now = {**attrs.asdict(progress), "finished": progress.finished}
        if now != self.progress:
            self.progress = now
            self._bump()
        try:
            lines = status_lines(await trio.to_thread.run_sync(read_status, self.db, 10))
        except StoreOpenError as exc:  # no crawl has written to it yet, say
            lines = [" ".join(str(exc).split())]
        if lines != self.status_lines:
            self.status_lines = lines
            self._bump()

    async def _refresh_status(self) -> None:
        while True:
            await trio.sleep(self.status_secs)
            await self._read_status()

    async def read(self) -> dict[str, Any]:
        data = self.fold.snapshot()
        data.update(
            mode="crawl",
            seq=self.version,
            queue=self.prefix,
            control=attrs.asdict(self.control_state),
            progress=self.progress,
            lines=self.status_lines,
        )
        return data

    async def stream(self, last_seen: int | None = None) -> AsyncIterator[Message]:
        """A snapshot now and after each change, at most one per `update_secs`."""
        while not self.closing.is_set():
            changed = self._changed
            data = await self.read()
            self.sent += 1
            yield Message("snapshot", data["seq"], data)
            with trio.move_on_after(self.update_secs):
                await self.closing.wait()
            async with trio.open_nursery() as nursery:
                for wait in (changed.wait, self.closing.wait):
                    nursery.start_soon(_first, wait, nursery.cancel_scope)

    def control(self, action: str) -> str:
        """Send `action` to every worker (through the control stream); "" once it is on its way."""
        command = {"pause": "pause", "resume": "resume", "cancel": "cancel", "stop": "cancel"}
        if action not in command:
            return f"unknown action {action!r}"
        if self._nursery is None:
            return "the page is not following the crawl yet"
        reason = "cancelled from the web page" if command[action] == "cancel" else ""
        self._nursery.start_soon(self.channel.send, command[action], reason)
        return ""

    def stats(self) -> dict[str, Any]:
        return {"snapshots_sent": self.sent, "events": self.fold.events}


async def _first(wait: Callable[[], Awaitable[object]], scope: trio.CancelScope) -> None:
    await wait()
    scope.cancel()


async def serve_crawl(redis_url: str, prefix: str, db: str, address: Any, announce: Any) -> None:
    """`trio-crawl web --redis`: serve the crawl's page until Ctrl-C or SIGTERM."""
    from ..ui.web import open_page, until_interrupted
    from .client import connect

    async with connect(redis_url) as client, trio.open_nursery() as nursery:
        view = CrawlView(client, prefix, db)
        await nursery.start(view.run)
        async with open_page(view, address, view.closing) as page:
            announce(page.url)
            await until_interrupted()
        nursery.cancel_scope.cancel()
