"""A worker that loses Redis or PostgreSQL: retried under the policy, then a clear stop.

A worker needs both servers: Redis for its work (take, renew, acknowledge, report) and the
store for the ledger (what a batch may skip, the whole crawl's account). A server that goes
away for a moment (a restart, a failover, a network blip) must not end a worker, and one that
stays away must end it clearly rather than with a traceback or a hang: every such call goes
through `retrying`, which retries a lost connection under the `saving` retry policy (the
store's: its attempts and backoff, slept on trio's clock) and then raises `ServerLost`, whose
message is the one line the worker prints before it exits non-zero. What the worker stored
stays stored (every save is its own transaction) and the batch it held goes back to the queue
through the lease, as a killed worker's does.

`RetryingQueue` is the work queue with its calls so retried, so the worker loop needs no
change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import attrs
import coredis.exceptions
import trio

from ..engine.results import ErrorKind, StageError
from ..engine.retry import RetryCalculator, RetryPolicy
from .queue import Progress, Taken, WorkQueue

logger = logging.getLogger(__name__)

T = TypeVar("T")

STORE_DOWN = frozenset({ErrorKind.database_error})
"""A store failure that a server coming back cures (a lost connection is `database_error`); a
store that takes no more writes (`database_unusable`) is not waited for."""


class ServerLost(Exception):
    """A server the worker needs stayed away through every retry of the policy."""


def redis_down(error: BaseException) -> bool:
    return isinstance(error, (coredis.exceptions.ConnectionError, TimeoutError, OSError))


def store_down(error: BaseException) -> bool:
    return isinstance(error, StageError) and error.kind in STORE_DOWN


def redis_unreachable(error: BaseException) -> BaseException | None:
    """The failure to connect to Redis in `error` (an exception group, nested or not)."""
    if isinstance(error, coredis.exceptions.ConnectionError):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = redis_unreachable(inner)
        if found is not None:
            return found
    return None


def first_lost(group: BaseException) -> ServerLost | None:
    """The `ServerLost` in `group` (an exception group, nested or not), if there is one."""
    if isinstance(group, ServerLost):
        return group
    for inner in getattr(group, "exceptions", ()):
        found = first_lost(inner)
        if found is not None:
            return found
    return None


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    lost: str,
    down: Callable[[BaseException], bool],
    policy: RetryPolicy,
) -> T:
    """`operation()`, retried under `policy` while `down` says its server is away; then
    `ServerLost` naming `lost` (say, "Redis at redis://host:6379/0")."""
    calculator = RetryCalculator(policy)
    attempts = 0
    while True:
        attempts += 1
        try:
            return await operation()
        except Exception as error:
            if not down(error):
                raise
            reason = first_line(error)
            if attempts >= policy.max_attempts:
                raise ServerLost(
                    f"lost {lost}: {reason} (gave up after {attempts} attempts)"
                ) from error
            delay = calculator.delay(attempts)
            logger.warning(
                "%s is away (%s); attempt %d of %d in %.2f s",
                lost,
                reason,
                attempts + 1,
                policy.max_attempts,
                delay,
            )
            await trio.sleep(delay)


def first_line(error: BaseException) -> str:
    """The first line of what `error` says (its type's name when it says nothing)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@attrs.frozen
class Servers:
    """The servers a worker needs, named as its error names them, and the policy their calls
    retry under."""

    policy: RetryPolicy
    redis: str = "Redis"
    store: str = "the store"

    async def redis_call(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retrying(operation, lost=self.redis, down=redis_down, policy=self.policy)

    async def store_call(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retrying(operation, lost=self.store, down=store_down, policy=self.policy)

    async def both(self, operation: Callable[[], Awaitable[T]]) -> T:
        """For a call that needs both servers: retried while either is away."""

        def down(error: BaseException) -> bool:
            return redis_down(error) or store_down(error)

        lost = f"{self.redis} or {self.store}"
        return await retrying(operation, lost=lost, down=down, policy=self.policy)


class RetryingQueue(WorkQueue):
    """The work queue whose calls survive Redis going away for less than the policy allows."""

    def __init__(self, queue: WorkQueue, *, lost: str, policy: RetryPolicy) -> None:
        super().__init__(queue.client, queue.prefix)
        self._lost = lost
        self._policy = policy

    async def _retry(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retrying(operation, lost=self._lost, down=redis_down, policy=self._policy)

    async def progress(self) -> Progress:
        return await self._retry(lambda: WorkQueue.progress(self))

    async def take(
        self, consumer: str, *, count: int = 1, lease_ms: int, block_ms: int = 1000
    ) -> list[Taken]:
        return await self._retry(
            lambda: WorkQueue.take(
                self, consumer, count=count, lease_ms=lease_ms, block_ms=block_ms
            )
        )

    async def renew(self, consumer: str, ids: Sequence[str]) -> int:
        return await self._retry(lambda: WorkQueue.renew(self, consumer, ids))

    async def ack(self, ids: Sequence[str]) -> int:
        return await self._retry(lambda: WorkQueue.ack(self, ids))
