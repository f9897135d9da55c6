"""Which workers are alive: each worker beats into Redis, `status` reads the beats.

A worker writes its beat (`Beat`: name, host, pid, when it started, when it beat, the batch in
its hands and its counts) into the crawl's `{prefix}:workers` hash every `every_secs`, slept on
trio's clock, and removes it when it leaves cleanly. A worker killed or cut off stops beating;
once its last beat is older than its lease, the queue hands its batch to another worker, so
`status` shows it as lost (`seen`). The time of a beat is wall time (`time.time`, unless a test
passes its own clock): beats are compared across machines, whose trio clocks share no origin.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping

import attrs
import cattrs
import trio

from .queue import WorkQueue

logger = logging.getLogger(__name__)

HEARTBEAT_SECS = 5.0


@attrs.define
class WorkerState:
    """What a worker's beat says about it; the worker updates it as it goes."""

    name: str
    lease_secs: float
    host: str = attrs.field(factory=socket.gethostname)
    pid: int = attrs.field(factory=os.getpid)
    started: float = 0.0
    batch: str | None = None
    counts: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class Beat:
    """One worker's last beat, as stored."""

    name: str
    host: str
    pid: int
    started: float
    beat_at: float
    lease_secs: float
    batch: str | None
    counts: Mapping[str, int]


@attrs.frozen
class Seen:
    """A worker as `status` shows it: its last beat, how old it is, and whether it is lost
    (silent longer than its lease: its batch is another worker's to take)."""

    beat: Beat
    age: float

    @property
    def lost(self) -> bool:
        return self.age > self.beat.lease_secs

    def line(self) -> str:
        beat = self.beat
        state = "LOST (silent past its lease)" if self.lost else "live"
        batch = f"batch {beat.batch}" if beat.batch else "no batch"
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in beat.counts.items() if v)
        return (
            f"  {beat.name} on {beat.host} pid {beat.pid}: {state}, last beat {self.age:.1f} s"
            f" ago, {batch}" + (f"; {counts}" if counts else "")
        )


def _key(queue: WorkQueue) -> str:
    return f"{queue.prefix}:workers"


async def beat(queue: WorkQueue, state: WorkerState, now: float) -> None:
    record = Beat(
        state.name,
        state.host,
        state.pid,
        state.started,
        now,
        state.lease_secs,
        state.batch,
        dict(state.counts),
    )
    await queue.client.hset(_key(queue), {state.name: json.dumps(cattrs.unstructure(record))})


async def keep_beating(
    queue: WorkQueue,
    state: WorkerState,
    *,
    every_secs: float = HEARTBEAT_SECS,
    clock: Callable[[], float] = time.time,
    also: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Beat now and every `every_secs` until cancelled. A beat that cannot be written is
    skipped: losing Redis is the worker loop's to judge, not its heartbeat's. `also` runs
    with each beat (the crawl's run row beats with it)."""
    state.started = state.started or clock()
    task_status.started()
    while True:
        try:
            await beat(queue, state, clock())
            if also is not None:
                await also()
        except Exception as error:  # any Redis failure: the next beat tries again
            logger.warning("%s could not beat: %s", state.name, error)
        await trio.sleep(every_secs)


async def leave(queue: WorkQueue, name: str) -> None:
    """A worker leaving cleanly takes its beat away: it is neither live nor lost."""
    await queue.client.hdel(_key(queue), [name])


async def workers_seen(queue: WorkQueue, now: float | None = None) -> list[Seen]:
    """Every worker that beat and did not leave, oldest beat first."""
    now = time.time() if now is None else now
    found = await queue.client.hgetall(_key(queue))
    beats = [cattrs.structure(json.loads(str(text)), Beat) for text in found.values()]
    return sorted(
        (Seen(beat, max(0.0, now - beat.beat_at)) for beat in beats),
        key=lambda seen: -seen.age,
    )
