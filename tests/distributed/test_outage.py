"""`retrying`, the pacing of a worker's calls while a server is away, under trio's MockClock:
the policy's delays between attempts, `ServerLost` naming the server after the last one, and
no retry for a failure that is not a server away."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from trio_crawl.distributed.outage import ServerLost, first_lost, redis_down, retrying
from trio_crawl.engine.retry import RetryPolicy

POLICY = RetryPolicy(max_attempts=4, base_delay_ms=100, max_delay_ms=300, jitter_ms=0)


class Away:
    """An operation whose server answers only from attempt `back_at` on (never: 0)."""

    def __init__(self, back_at: int = 0) -> None:
        self.back_at = back_at
        self.attempts: list[float] = []

    async def __call__(self) -> str:
        self.attempts.append(trio.current_time())
        if self.back_at and len(self.attempts) >= self.back_at:
            return "answer"
        raise ConnectionRefusedError("connection refused")


async def test_a_server_back_within_the_policy_is_waited_for(autojump_clock: MockClock) -> None:
    away = Away(back_at=3)
    assert await retrying(away, lost="Redis", down=redis_down, policy=POLICY) == "answer"
    assert away.attempts == pytest.approx([0, 0.1, 0.3])  # 100 ms, then 200 ms


async def test_a_server_away_past_the_policy_is_lost_naming_it(autojump_clock: MockClock) -> None:
    away = Away()
    with pytest.raises(ServerLost) as lost:
        await retrying(away, lost="Redis at redis://h:1/0", down=redis_down, policy=POLICY)
    # 100, 200, then 300 ms (the cap), and no sleep after the last attempt.
    assert away.attempts == pytest.approx([0, 0.1, 0.3, 0.6])
    assert trio.current_time() == pytest.approx(0.6)
    assert str(lost.value) == (
        "lost Redis at redis://h:1/0: connection refused (gave up after 4 attempts)"
    )
    group = BaseExceptionGroup("from a nursery", [ValueError(), lost.value])
    assert first_lost(BaseExceptionGroup("outer", [group])) is lost.value


async def test_a_failure_that_is_not_a_server_away_is_not_retried(
    autojump_clock: MockClock,
) -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        await retrying(broken, lost="Redis", down=redis_down, policy=POLICY)
    assert calls == 1
