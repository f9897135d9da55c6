"""ConnectionPool on its own, with stand-in connections and trio's mock clock."""

from __future__ import annotations

from typing import cast

import httpx
import pytest
import trio
import trio.testing

from trio_crawl.transport.connection import Connection, Origin
from trio_crawl.transport.pool import ConnectionPool

A: Origin = ("http", "a.example", 80)
B: Origin = ("http", "b.example", 80)


class FakeConnection:
    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.reused = False
        self.closed = False

    def close(self) -> None:
        self.closed = True


async def open_one(pool: ConnectionPool, origin: Origin) -> FakeConnection:
    assert await pool.checkout(origin, None) is None
    conn = FakeConnection(origin)
    pool.opened(cast(Connection, conn))
    return conn


def release(pool: ConnectionPool, conn: FakeConnection, reusable: bool = True) -> None:
    pool.release(cast(Connection, conn), reusable)


async def test_idle_connections_come_back_newest_first(autojump_clock: trio.abc.Clock) -> None:
    pool = ConnectionPool(10, None, 5.0)
    first, second = await open_one(pool, A), await open_one(pool, A)
    release(pool, first)
    await trio.sleep(1)
    release(pool, second)
    assert await pool.checkout(A, None) is cast(Connection, second)
    assert second.reused
    assert await pool.checkout(A, None) is cast(Connection, first)
    assert await pool.checkout(B, None) is None  # another origin opens its own
    assert pool.open_connections == 3


async def test_expired_idle_connections_are_closed_not_reused(
    autojump_clock: trio.abc.Clock,
) -> None:
    pool = ConnectionPool(10, None, 5.0)
    old, newer = await open_one(pool, A), await open_one(pool, A)
    release(pool, old)
    release(pool, newer)
    await trio.sleep(6)
    assert await pool.checkout(A, None) is None
    assert old.closed and newer.closed
    assert (pool.open_connections, pool.idle_connections) == (1, 0)


async def test_at_the_bound_an_idle_connection_of_another_origin_is_closed(
    autojump_clock: trio.abc.Clock,
) -> None:
    pool = ConnectionPool(2, None, 5.0)
    a1, a2 = await open_one(pool, A), await open_one(pool, A)
    release(pool, a1)
    await trio.sleep(1)
    release(pool, a2)
    assert await pool.checkout(B, None) is None
    assert a1.closed and not a2.closed  # the one idle longest goes
    assert (pool.open_connections, pool.idle_connections) == (2, 1)


async def test_a_waiter_gets_the_first_connection_released(
    autojump_clock: trio.abc.Clock,
) -> None:
    pool = ConnectionPool(1, None, 5.0)
    busy = await open_one(pool, A)
    got: list[object] = []

    async def wait() -> None:
        got.append(await pool.checkout(A, None))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.sleep(1)
        assert got == []
        release(pool, busy)
    assert got == [busy]


async def test_a_waiter_times_out_with_pool_timeout_and_leaves_no_trace(
    autojump_clock: trio.abc.Clock,
) -> None:
    pool = ConnectionPool(1, None, 5.0)
    busy = await open_one(pool, A)
    with pytest.raises(httpx.PoolTimeout):
        await pool.checkout(B, 2.0)
    release(pool, busy, reusable=False)
    assert pool.open_connections == 0
    assert await pool.checkout(B, 2.0) is None


async def test_a_cancelled_waiter_does_not_swallow_a_wake_up(
    autojump_clock: trio.abc.Clock,
) -> None:
    pool = ConnectionPool(1, None, 5.0)
    busy = await open_one(pool, A)
    got: list[object] = []

    async def wait() -> None:
        got.append(await pool.checkout(A, None))

    async with trio.open_nursery() as nursery:
        with trio.move_on_after(1):
            await pool.checkout(A, None)  # parks first, then gives up
        nursery.start_soon(wait)
        await trio.sleep(1)
        release(pool, busy)
    assert got == [busy]


async def test_max_keepalive_zero_keeps_nothing_idle(autojump_clock: trio.abc.Clock) -> None:
    pool = ConnectionPool(5, 0, 5.0)
    conn = await open_one(pool, A)
    release(pool, conn)
    assert conn.closed
    assert (pool.open_connections, pool.idle_connections) == (0, 0)


async def test_closing_the_pool_closes_every_connection(autojump_clock: trio.abc.Clock) -> None:
    pool = ConnectionPool(5, None, 5.0)
    idle, busy = await open_one(pool, A), await open_one(pool, B)
    release(pool, idle)
    pool.close()
    assert idle.closed and busy.closed
    assert pool.open_connections == 1  # busy: counted until its reader gives it back
    release(pool, busy)
    assert pool.open_connections == 0
    with pytest.raises(RuntimeError):
        await pool.checkout(A, None)
