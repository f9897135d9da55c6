"""Polite as one crawler: the crawl's rate and per-host limits held in Redis for every worker.

`SharedPoliteness` is what `trio_crawl.crawling.politeness.Politeness` is in one process
(``async with politeness.request(host):``, `update` on a config reload), with its limits kept
under the crawl's key prefix so that they hold for the whole crawl, however many workers on
however many machines:

- the request rate is one GCRA on Redis's clock (`rate.SharedRate`);
- a host's requests in flight are slots of a semaphore in Redis whose holds lapse unless
  renewed (`host_slots.HostSlots`): a background task renews this process's holds while their
  requests run, and a killed worker's slots come back once their hold lapses;
- a host's robots.txt ``Crawl-delay`` is shared too: each worker reads robots.txt itself (the
  fetcher books the delay in `pacer`), and the starts of requests to that host are spaced by
  a GCRA of one request per delay under the host's own key, so the delay holds for the crawl,
  not per worker.

Each process also keeps the per-host limit locally, so that its own waiting requests queue in
trio rather than all polling Redis. Order is the local politeness's: a slot first, then the
host's pace, then the rate, so a request waiting for a busy host holds no rate booking.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import coredis
import trio

from ..config.model import CrawlConfig
from ..crawling.politeness import HostLimiter, HostPacer
from .host_slots import HostSlots
from .rate import SharedRate

HOLD_SECS = 15.0
"""How long a slot stays held without renewal: a killed worker's slots come back after it."""
RELEASE_GRACE_SECS = 5.0


class SharedPoliteness:
    """The crawl's manners kept in Redis under `prefix`; open it with `open_shared_politeness`,
    which runs the renewal of this process's slots."""

    def __init__(
        self,
        client: coredis.Redis[str],
        prefix: str,
        requests_per_second: float,
        per_host_concurrency: int,
        *,
        burst: float = 1.0,
        hold_secs: float = HOLD_SECS,
    ) -> None:
        if not burst >= 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.prefix = prefix
        self.rate = float(requests_per_second)
        self.per_host = per_host_concurrency
        self.burst = float(burst)
        self.hold_secs = hold_secs
        self.pacer = HostPacer()
        self.local = HostLimiter(per_host_concurrency)
        self._rate = SharedRate(client)
        self._slots = HostSlots(client, hold_secs)
        self._me = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._held: defaultdict[str, set[str]] = defaultdict(set)

    def rate_key(self) -> str:
        return f"{self.prefix}:rate"

    def slots_key(self, host: str) -> str:
        return f"{self.prefix}:slots:{host}"

    def pace_key(self, host: str) -> str:
        return f"{self.prefix}:pace:{host}"

    def request(self, host: str) -> _SharedTurn:
        """Hold a slot on `host`, the host's pace and one booking of the crawl's rate for the
        duration of one request (``async with politeness.request(host):``)."""
        return _SharedTurn(self, host)

    def update(self, requests_per_second: float, per_host_concurrency: int) -> None:
        """Apply reloaded limits to requests not yet admitted (each worker reloads its own
        config: give them all the same file)."""
        self.rate = float(requests_per_second)
        self.per_host = per_host_concurrency
        self.local.set_limit(per_host_concurrency)

    async def _take_slot(self, host: str) -> str | None:
        if self.per_host <= 0:
            return None
        holder = f"{self._me}:{next(self._numbers)}"
        # Held from the moment it is asked for, so that a renewal due while the script runs
        # covers it; `_give_back` forgets it whatever happens.
        self._held[host].add(holder)
        try:
            await self._slots.acquire(self.slots_key(host), holder, self.per_host)
        except BaseException:
            # Cancelled with the script's answer on the way, the slot may be ours in Redis.
            await self._give_back(host, holder)
            raise
        return holder

    async def _give_back(self, host: str, holder: str) -> None:
        self._held[host].discard(holder)
        # Given back even when cancelled, within a bound: a Redis that does not answer leaves
        # the slot to lapse instead.
        with trio.move_on_after(RELEASE_GRACE_SECS, shield=True):
            await self._slots.release(self.slots_key(host), holder)

    async def _pace_and_rate(self, host: str) -> None:
        delay = self.pacer.delay(host)
        if delay > 0:
            await self._rate.acquire(self.pace_key(host), 1 / delay)
        while self.rate > 0:  # read again after each wait: a reload may change it
            wait = await self._rate.wait_for(self.rate_key(), self.rate, self.burst)
            if not wait:
                return
            await trio.sleep(wait)

    async def renew_held(self) -> None:
        """Extend the holds of every slot this process has (the renewal task's one round)."""
        for host, holders in list(self._held.items()):
            if holders:
                await self._slots.renew(self.slots_key(host), list(holders))

    async def keep_renewing(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.hold_secs / 3)
            await self.renew_held()


class _SharedTurn:
    """One request's turn on a host (`SharedPoliteness.request`)."""

    __slots__ = ("_holder", "_host", "_limiter", "_politeness")

    def __init__(self, politeness: SharedPoliteness, host: str) -> None:
        self._politeness = politeness
        self._host = host
        self._limiter: trio.CapacityLimiter | None = None
        self._holder: str | None = None

    async def __aenter__(self) -> None:
        politeness, host = self._politeness, self._host
        limiter = politeness.local.slot(host)
        await limiter.acquire()
        try:
            self._holder = await politeness._take_slot(host)
            await politeness._pace_and_rate(host)
        except BaseException:
            await self._give_back(limiter)
            raise
        self._limiter = limiter

    async def __aexit__(self, *exc_info: object) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            await self._give_back(limiter)

    async def _give_back(self, limiter: trio.CapacityLimiter) -> None:
        holder, self._holder = self._holder, None
        try:
            if holder is not None:
                await self._politeness._give_back(self._host, holder)
        finally:
            limiter.release()


def open_crawl_politeness(
    client: coredis.Redis[str], prefix: str, config: CrawlConfig
) -> AbstractAsyncContextManager[SharedPoliteness]:
    """The politeness of the crawl named `prefix`, at `config`'s ``[rate_limit]``."""
    rate = config.rate_limit
    return open_shared_politeness(
        client, prefix, rate.requests_per_second, rate.per_host_concurrency
    )


@asynccontextmanager
async def open_shared_politeness(
    client: coredis.Redis[str],
    prefix: str,
    requests_per_second: float,
    per_host_concurrency: int,
    *,
    burst: float = 1.0,
    hold_secs: float = HOLD_SECS,
) -> AsyncIterator[SharedPoliteness]:
    """A `SharedPoliteness` whose slots are renewed for as long as the block runs."""
    politeness = SharedPoliteness(
        client,
        prefix,
        requests_per_second,
        per_host_concurrency,
        burst=burst,
        hold_secs=hold_secs,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(politeness.keep_renewing)
        try:
            yield politeness
        finally:
            nursery.cancel_scope.cancel()
