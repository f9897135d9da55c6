"""Politeness: how fast, and how many at once, a crawl may ask a site for pages.

Three limits, the first two changeable while a crawl runs (live config reload):

- `TokenBucket` — a global request rate (requests per second, with a burst allowance);
- `HostLimiter` — how many requests may be in flight to one host at a time;
- `HostPacer` — the least time between the starts of two requests to one host, set per host
  from its robots.txt ``Crawl-delay``.

`Politeness` combines them: ``async with politeness.request(host):`` first waits for a slot
on the host, then for the host's pace, then for a token, so a request queued behind a busy or
slow-paced host never burns a token it cannot use yet. A host with a crawl delay is therefore
asked at most once per max(1 / requests_per_second, delay) seconds. Everything here runs on
trio's clock (`trio.current_time`, `trio.sleep`), so tests drive it with a `MockClock`.

The per-host limit is one of the crawl's bounds, each on something different: a stage's limit
(items), the fetcher's slots (requests in flight in all, ``max_connections``), this (requests
in flight to one host); docs/architecture.md, "What bounds what", has them side by side.
"""

from __future__ import annotations

import math
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

# Float arithmetic can leave a bucket a hair short of a whole token after sleeping exactly
# the computed wait; without the slack a waiter would go round once more for nothing.
_TOKEN_SLACK = 1e-9


class TokenBucket:
    """A global rate limit: `acquire()` returns at most `rate` times per second on average.

    The bucket holds up to `burst` tokens (default 1: requests are evenly spaced) and starts
    full. A rate of 0 or less means unlimited. Waiters are served first come, first served.
    """

    __slots__ = ("_burst", "_changed", "_lock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if burst is not None and not burst >= 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._rate = float(rate)
        self._burst = 1.0 if burst is None else float(burst)
        self._tokens = self._burst
        # None until first used, so a bucket can be built outside `trio.run` (e.g. from config).
        self._stamp: float | None = None
        self._lock = trio.Lock()
        self._changed = trio.Event()

    @property
    def rate(self) -> float:
        """Requests per second; 0 or less means unlimited."""
        return self._rate

    @property
    def burst(self) -> float:
        """How many requests may go back to back after a quiet spell."""
        return self._burst

    def set_rate(self, rate: float) -> None:
        """Change the rate live; a caller already waiting re-plans its wait at once."""
        if self._stamp is not None:
            self._refill(trio.current_time())
        self._rate = float(rate)
        self._changed.set()
        self._changed = trio.Event()

    async def acquire(self) -> None:
        """Wait until a request may be sent (returns at once when unlimited)."""
        if self._rate <= 0:
            await trio.lowlevel.checkpoint()
            return
        async with self._lock:
            while self._rate > 0:
                self._refill(trio.current_time())
                if self._tokens >= 1 - _TOKEN_SLACK:
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                # Sleep until the next token is due, unless the rate changes first.
                with trio.move_on_after((1 - self._tokens) / self._rate):
                    await self._changed.wait()

    def _refill(self, now: float) -> None:
        if self._stamp is None or self._rate <= 0:
            self._tokens = self._burst
        else:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now


def _capacity(per_host: int) -> float:
    return math.inf if per_host <= 0 else per_host


class HostLimiter:
    """Per-host concurrency: at most `per_host` requests in flight to each host (0 = no limit).

    One `trio.CapacityLimiter` per host, made on first use; `set_limit` resizes all of them.
    """

    __slots__ = ("_limit", "_limiters")

    def __init__(self, per_host: int) -> None:
        self._limit = _capacity(per_host)
        self._limiters: dict[str, trio.CapacityLimiter] = {}

    @property
    def limit(self) -> float:
        """The current per-host limit (`math.inf` when unlimited)."""
        return self._limit

    def slot(self, host: str) -> trio.CapacityLimiter:
        """The limiter for `host`; use it as ``async with limiter.slot(host):``."""
        limiter = self._limiters.get(host)
        if limiter is None:
            limiter = self._limiters[host] = trio.CapacityLimiter(self._limit)
        return limiter

    def set_limit(self, per_host: int) -> None:
        """Change the limit live for every host; lowering it lets in-flight requests finish."""
        self._limit = _capacity(per_host)
        for limiter in self._limiters.values():
            limiter.total_tokens = self._limit


class HostPacer:
    """Spaces the starts of requests to a host by its delay (robots.txt ``Crawl-delay``).

    Hosts without a delay pass straight through. Waiters for one host queue in order (a
    `trio.Lock` is fair), and each start books the next one `delay` seconds later.
    """

    __slots__ = ("_delays", "_locks", "_next")

    def __init__(self) -> None:
        self._delays: dict[str, float] = {}
        self._next: dict[str, float] = {}
        self._locks: dict[str, trio.Lock] = {}

    def delay(self, host: str) -> float:
        """The delay in force for `host` (0 when none was set)."""
        return self._delays.get(host, 0.0)

    def set_delay(self, host: str, seconds: float) -> None:
        """Space `host`'s requests by `seconds` from now on (0 or less removes the delay)."""
        if seconds > 0:
            self._delays[host] = float(seconds)
        else:
            self._delays.pop(host, None)

    async def wait(self, host: str) -> None:
        """Return when a request to `host` may start."""
        delay = self._delays.get(host)
        if delay is None:
            return
        lock = self._locks.get(host)
        if lock is None:
            lock = self._locks[host] = trio.Lock()
        async with lock:
            start = self._next.get(host)
            if start is not None and start > trio.current_time():
                await trio.sleep_until(start)
            self._next[host] = trio.current_time() + self._delays.get(host, delay)


class Manners(Protocol):
    """What the fetcher asks of a politeness: `Politeness` keeps the limits in one process; a
    distributed crawl hands in one that keeps them in Redis, for every worker at once (the
    crawl and the engine never learn which)."""

    @property
    def pacer(self) -> HostPacer:
        """Where the fetcher books each host's robots.txt ``Crawl-delay``."""
        ...

    def request(self, host: str) -> AbstractAsyncContextManager[None]:
        """Hold a turn on `host` for the duration of one request."""
        ...

    def update(self, requests_per_second: float, per_host_concurrency: int) -> None:
        """Apply reloaded limits to requests not yet admitted."""
        ...


class Politeness:
    """The crawl's manners towards a site: a global rate limit, per-host concurrency, and
    the per-host pace robots.txt asks for."""

    __slots__ = ("bucket", "hosts", "pacer")

    def __init__(
        self,
        requests_per_second: float = 50.0,
        per_host_concurrency: int = 20,
        *,
        burst: float | None = None,
    ) -> None:
        self.bucket = TokenBucket(requests_per_second, burst)
        self.hosts = HostLimiter(per_host_concurrency)
        self.pacer = HostPacer()

    def request(self, host: str) -> _Turn:
        """Hold a slot on `host` and one rate token for the duration of one request
        (``async with politeness.request(host):``).

        Free slots and an unlimited rate are taken without a trip through the scheduler (the
        request itself is the checkpoint); only real waiting awaits."""
        return _Turn(self, host)

    def update(self, requests_per_second: float, per_host_concurrency: int) -> None:
        """Apply reloaded limits; they take effect for requests not yet admitted."""
        self.bucket.set_rate(requests_per_second)
        self.hosts.set_limit(per_host_concurrency)


class _Turn:
    """One request's turn on a host (`Politeness.request`). A class rather than an
    ``asynccontextmanager``: a generator-based manager costs more on every request."""

    __slots__ = ("_host", "_limiter", "_politeness")

    def __init__(self, politeness: Politeness, host: str) -> None:
        self._politeness = politeness
        self._host = host
        self._limiter: trio.CapacityLimiter | None = None

    async def __aenter__(self) -> None:
        politeness, host = self._politeness, self._host
        limiter = politeness.hosts.slot(host)
        try:
            limiter.acquire_nowait()
        except trio.WouldBlock:
            await limiter.acquire()
        try:
            await politeness.pacer.wait(host)  # no checkpoint for a host without a delay
            if politeness.bucket.rate > 0:
                await politeness.bucket.acquire()
        except BaseException:
            limiter.release()
            raise
        self._limiter = limiter

    async def __aexit__(self, *exc_info: object) -> None:
        limiter, self._limiter = self._limiter, None
        if limiter is not None:
            limiter.release()
