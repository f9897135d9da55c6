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

A slot a request is done with stays this process's for a moment (`LINGER_SECS`): the next
request to the host takes it without asking Redis, so a busy worker asks Redis for a slot now
and then, not for every request; a slot passed on for `REUSE_SECS` goes back to Redis, where
the other workers wait their turn. A slot kept so is still held in Redis: the limit holds for
the slots held, and the requests in flight are never more.

Each process also keeps the per-host limit locally, so that its own waiting requests queue in
trio rather than all polling Redis. Order is the local politeness's: a slot first, then the
host's pace, then the rate, so a request waiting for a busy host holds no rate booking.

Redis going away is the worker's matter, not a request's: a request's turn waits for Redis
under the worker's policy (`outage.retrying`), and once the policy gives up the turn raises
`ServerLost`, kept in `lost` so the worker stops with it rather than count the request's item
as failed; the renewal and the giving back only log (a hold not renewed lapses on its own).
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import coredis
import trio

from ..config.model import CrawlConfig
from ..crawling.politeness import HostLimiter, HostPacer
from ..engine.retry import RetryPolicy
from .host_slots import HostSlots
from .outage import ServerLost, redis_down, retrying
from .rate import SharedRate

logger = logging.getLogger(__name__)
T = TypeVar("T")

HOLD_SECS = 15.0
"""How long a slot stays held without renewal: a killed worker's slots come back after it."""
RELEASE_GRACE_SECS = 5.0
LINGER_SECS = 0.005
"""How long a slot given back stays this process's for its next request to the host before it
goes back to Redis: a busy worker then asks Redis for a slot now and then, not every request."""
REUSE_SECS = 1.0
"""How long a slot may pass from request to request in one process before it must go back to
Redis, so that the other workers get their turn at the host."""


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
        policy: RetryPolicy | None = None,
        lost_name: str = "Redis",
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
        self._since: dict[str, float] = {}
        self._spare: defaultdict[str, list[str]] = defaultdict(list)
        self._returning: defaultdict[str, list[str]] = defaultdict(list)
        self._to_release = trio.Event()
        self.slots_from_redis = 0
        """Slots this process took from Redis (the rest were handed on within it)."""
        self.policy = policy or RetryPolicy(max_attempts=1)
        self.lost_name = lost_name
        self.lost: ServerLost | None = None
        """Set once a request's turn gave up on Redis: the worker must stop with it."""

    async def _ask(self, operation: Callable[[], Awaitable[T]]) -> T:
        """A request's call to Redis, waited out under the policy while Redis is away."""
        try:
            return await retrying(
                operation, lost=self.lost_name, down=redis_down, policy=self.policy
            )
        except ServerLost as lost:
            self.lost = self.lost or lost
            raise

    async def _quietly(self, what: str, operation: Callable[[], Awaitable[object]]) -> None:
        """A background call to Redis; one that fails is logged, not raised."""
        try:
            await operation()
        except Exception as error:
            if not redis_down(error):
                raise
            logger.warning("%s: %s failed, Redis away: %s", self.lost_name, what, error)

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
        spare = self._spare.get(host)
        if spare:
            return spare.pop()
        holder = f"{self._me}:{next(self._numbers)}"
        # Held from the moment it is asked for, so that a renewal due while the script runs
        # covers it.
        self._held[host].add(holder)
        try:
            await self._ask(
                lambda: self._slots.acquire(self.slots_key(host), holder, self.per_host)
            )
        except BaseException:
            # Cancelled with the script's answer on the way, the slot may be ours in Redis.
            self._held[host].discard(holder)
            with trio.move_on_after(RELEASE_GRACE_SECS, shield=True):
                give = functools.partial(self._slots.release, self.slots_key(host), [holder])
                await self._quietly("giving a slot back", give)
            raise
        self._since[holder] = trio.current_time()
        self.slots_from_redis += 1
        return holder

    def _put_back(self, host: str, holder: str) -> None:
        """A request is done with `holder`: the next request to `host` here may have it, until
        the releaser gives it back to Redis (at once when it has passed on for long enough)."""
        fresh = trio.current_time() - self._since.get(holder, -math.inf) < REUSE_SECS
        (self._spare if fresh else self._returning)[host].append(holder)
        self._to_release.set()

    async def keep_releasing(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            await self._to_release.wait()
            self._to_release = trio.Event()
            await trio.sleep(LINGER_SECS)
            await self.release_unused()

    async def release_unused(self) -> None:
        """Give back to Redis every slot this process holds but no request uses."""
        for pool in (self._spare, self._returning):
            for host, holders in list(pool.items()):
                if holders:
                    pool[host] = []
                    await self._release(host, holders)

    async def release_all(self) -> None:
        """Give back every slot this process holds (it is closing)."""
        for host, holders in list(self._held.items()):
            await self._release(host, list(holders))
        self._spare.clear()
        self._returning.clear()

    async def _release(self, host: str, holders: list[str]) -> None:
        for holder in holders:
            self._held[host].discard(holder)
            self._since.pop(holder, None)
        if holders:
            await self._quietly(
                "giving slots back", lambda: self._slots.release(self.slots_key(host), holders)
            )

    async def _pace_and_rate(self, host: str) -> None:
        delay = self.pacer.delay(host)
        if delay > 0:
            await self._ask(lambda: self._rate.acquire(self.pace_key(host), 1 / delay))
        while self.rate > 0:  # read again after each wait: a reload may change it
            rate = self.rate
            ask = functools.partial(self._rate.wait_for, self.rate_key(), rate, self.burst)
            wait = await self._ask(ask)
            if not wait:
                return
            await trio.sleep(wait)

    async def renew_held(self) -> None:
        """Extend the holds of every slot this process has (the renewal task's one round)."""
        for host, holders in list(self._held.items()):
            if holders:
                renew = functools.partial(self._slots.renew, self.slots_key(host), list(holders))
                await self._quietly("renewing slots", renew)

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
            self._give_back(limiter)
            raise
        self._limiter = limiter

    async def __aexit__(self, *exc_info: object) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            self._give_back(limiter)

    def _give_back(self, limiter: trio.CapacityLimiter) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            self._politeness._put_back(self._host, holder)
        limiter.release()


def open_crawl_politeness(
    client: coredis.Redis[str], prefix: str, config: CrawlConfig, *, lost_name: str = "Redis"
) -> AbstractAsyncContextManager[SharedPoliteness]:
    """The politeness of the crawl named `prefix`, at `config`'s ``[rate_limit]``; Redis away
    is waited out under the `saving` retry policy, as the worker's other Redis calls are."""
    rate = config.rate_limit
    return open_shared_politeness(
        client,
        prefix,
        rate.requests_per_second,
        rate.per_host_concurrency,
        policy=config.retry.for_stage("saving") or RetryPolicy(),
        lost_name=lost_name,
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
    policy: RetryPolicy | None = None,
    lost_name: str = "Redis",
) -> AsyncIterator[SharedPoliteness]:
    """A `SharedPoliteness` whose slots are renewed for as long as the block runs."""
    politeness = SharedPoliteness(
        client,
        prefix,
        requests_per_second,
        per_host_concurrency,
        burst=burst,
        hold_secs=hold_secs,
        policy=policy,
        lost_name=lost_name,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(politeness.keep_renewing)
        await nursery.start(politeness.keep_releasing)
        try:
            yield politeness
        finally:
            nursery.cancel_scope.cancel()
            # Even when cancelled, within a bound: a Redis that does not answer leaves the
            # slots to lapse instead.
            with trio.move_on_after(RELEASE_GRACE_SECS, shield=True):
                await politeness.release_all()
