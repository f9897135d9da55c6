"""Pause, resume and cancel for every worker of a crawl: a control stream in Redis.

Each command is an entry of the stream `{prefix}:control` that carries the crawl's whole state
after it (paused or not, cancelled and why), written by one script that reads the last entry
and appends the next, so two operators never interleave a read and a write. A worker reads
the last entry when it starts (a worker that joins late, or comes back, learns the state at
once) and then follows the stream from there with a blocking read of its own cursor. Pub/sub
would lose what was said while a worker was away; a stream keeps it, and since every entry
holds the whole state, trimming old entries (``MAXLEN``) loses nothing.

A cancel holds until a new `plan` of the same crawl: a worker started after it exits at once
as cancelled, and a `plan` run clears it (a pause holds until `resume`, through a `plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import attrs
import coredis
import coredis.exceptions
import trio

from .outage import redis_down

ACTIONS = ("pause", "resume", "cancel")
"""What an operator may send; `plan` is sent by planning itself."""

KEPT = 1000
"""Control entries kept (each holds the whole state, so the older ones are history only)."""


@attrs.frozen
class CrawlState:
    """The crawl as its operators steered it: paused, and cancelled (the reason; "" if not)."""

    paused: bool = False
    cancelled: str = ""


class ControlChannel:
    """The stream `{prefix}:control` on `client`: `send` a command, `state` now, `follow`."""

    def __init__(self, client: coredis.Redis[str], prefix: str) -> None:
        self.client = client
        self.stream = f"{prefix}:control"

    async def send(self, action: str, reason: str = "") -> CrawlState:
        """Append `action` (pause, resume, cancel, or plan: lift a cancel); the state after."""
        if action not in (*ACTIONS, "plan"):
            raise ValueError(f"no such control action {action!r}")
        if action == "cancel" and not reason:
            reason = "cancelled"
        script = self.client.register_script(_SEND)
        await script(keys=[self.stream], args=[action, reason, KEPT])
        state, _ = await self.state()
        return state

    async def state(self) -> tuple[CrawlState, str]:
        """The state now and the id of the entry that set it ("0-0": never steered)."""
        last = await self.client.xrevrange(self.stream, "+", "-", count=1)
        if not last:
            return CrawlState(), "0-0"
        return _state(last[0].field_values), str(last[0].identifier)

    async def follow(
        self,
        apply: Callable[[CrawlState], None],
        *,
        block_ms: int = 1000,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """`apply` the state now, say so (`task_status`), then every later one, until cancelled."""
        state, cursor = await self.state()
        apply(state)
        task_status.started()
        while True:
            try:
                read = await self.client.xread({self.stream: cursor}, count=100, block=block_ms)
            except Exception as error:
                # Redis away: the worker's own calls wait it out or stop the worker under
                # its policy; following the steering only waits to read again.
                if not redis_down(error):
                    raise
                await trio.sleep(block_ms / 1000)
                continue
            for entry in () if not read else read.get(self.stream, ()):
                cursor = str(entry.identifier)
                apply(_state(entry.field_values))


_SEND = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local paused, cancelled = '0', ''
if last[1] then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'paused' then paused = fields[i + 1] end
    if fields[i] == 'cancelled' then cancelled = fields[i + 1] end
  end
end
local action = ARGV[1]
if action == 'pause' then paused = '1'
elseif action == 'resume' then paused = '0'
elseif action == 'cancel' then cancelled = ARGV[2]
elseif action == 'plan' then cancelled = '' end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'action', action,
  'reason', ARGV[2], 'paused', paused, 'cancelled', cancelled)
"""


async def steer(url: str, prefix: str, action: str, reason: str = "") -> CrawlState:
    """Send one command to the crawl `prefix` on the Redis at `url` (`trio-crawl pause` …);
    `RedisUnavailable`, one line, when that Redis cannot be reached."""
    from .client import RedisUnavailable, connect

    try:
        async with connect(url) as client:
            return await ControlChannel(client, prefix).send(action, reason)
    except* (coredis.exceptions.ConnectionError, OSError) as group:
        raise RedisUnavailable(f"cannot reach Redis at {url}: {group.exceptions[0]}") from None


def _state(fields: Any) -> CrawlState:
    return CrawlState(paused=fields.get("paused") == "1", cancelled=fields.get("cancelled", ""))


class SteeredSession(Protocol):
    """What a worker steers of the session running its batch (`trio_crawl.engine.Session`)."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def cancel(self, reason: str = "cancelled") -> None: ...


class Steering:
    """One worker's side of the control channel: the crawl's state as last read, a stop of
    this worker alone (a signal), and the session of the batch it runs, which is told each
    change through the engine's own control path."""

    def __init__(self, on_change: Callable[[CrawlState], None] | None = None) -> None:
        self.state = CrawlState()
        self.stopped = ""
        self._on_change = on_change
        self._session: SteeredSession | None = None
        self._changed = trio.Event()

    @property
    def stop_reason(self) -> str:
        """Why this worker stops ("" while it works): its own stop, or the crawl's cancel."""
        return self.stopped or self.state.cancelled

    def apply(self, state: CrawlState) -> None:
        """The crawl's state changed (or was read at the start)."""
        before, self.state = self.state, state
        if state == before:
            return
        session = self._session
        if session is not None:
            if state.cancelled and not before.cancelled:
                session.cancel(state.cancelled)
            elif state.paused != before.paused:
                session.pause() if state.paused else session.resume()
        if self._on_change is not None:
            self._on_change(state)
        self._wake()

    def stop(self, reason: str) -> None:
        """Stop this worker (only): its batch's session is cancelled, no new batch is taken."""
        if not self.stopped:
            self.stopped = reason
            if self._session is not None and not self.state.cancelled:
                self._session.cancel(reason)
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    @contextmanager
    def steer(self, session: SteeredSession) -> Iterator[None]:
        """While the block runs, `session` is the one commands reach; it starts as the crawl is
        (paused, or cancelled at once)."""
        self._session = session
        try:
            if self.stop_reason:
                session.cancel(self.stop_reason)
            elif self.state.paused:
                session.pause()
            yield
        finally:
            self._session = None

    async def may_take(self) -> bool:
        """Wait while the crawl is paused; False once this worker is to stop."""
        while self.state.paused and not self.stop_reason:
            await self._changed.wait()
        return not self.stop_reason
