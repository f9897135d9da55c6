"""Who may use which connection: per-origin LIFO idle lists under one global bound.

`ConnectionPool.checkout` hands out either an idle connection of the request's origin (the
most recently released one: it is the likeliest to be alive, and the older ones can expire)
or a *slot*, the right to open a new connection. Open connections plus slots being connected
never exceed `max_connections`. When the bound is reached, an idle connection of any origin is
closed to make room; when none is idle, the caller waits (FIFO behind earlier waiters) until a
connection is released or closed.

Waiting is a single `trio.lowlevel.ParkingLot`: every release or close wakes one waiter, who
checks again. No lock or event is allocated per request. Every change of the counts happens
synchronously with the change it counts (closing is synchronous too, see `Connection`), so
cancellation at any await leaves the pool consistent.
"""

from __future__ import annotations

from typing import Literal

import httpx
import trio

from .connection import Connection, Origin


class ConnectionPool:
    """Idle connections by origin and the count of open ones; see the module docstring."""

    __slots__ = (
        "_all",
        "_closed",
        "_expiry",
        "_idle",
        "_idle_count",
        "_max_connections",
        "_max_idle",
        "_open",
        "_waiters",
    )

    def __init__(self, max_connections: int, max_idle: int | None, keepalive_expiry: float) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
        if max_idle is not None and max_idle < 0:
            raise ValueError(f"max_keepalive_connections must not be negative, got {max_idle!r}")
        self._max_connections = max_connections
        self._max_idle = max_connections if max_idle is None else min(max_idle, max_connections)
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}  # oldest first; never an empty list
        self._idle_count = 0
        self._open = 0  # connections open, plus slots handed out and not yet connected
        self._waiters = trio.lowlevel.ParkingLot()
        self._closed = False
        self._all: set[Connection] = set()  # every open connection, idle or in use

    @property
    def open_connections(self) -> int:
        """Connections open or being opened."""
        return self._open

    @property
    def idle_connections(self) -> int:
        """Connections waiting in the pool for a request."""
        return self._idle_count

    async def checkout(
        self, origin: Origin, limit: float | None, *, fresh: bool = False, probe: bool = False
    ) -> Connection | None:
        """An idle connection to `origin`, or None: a slot for a new one (the caller must
        `opened` or `give_back_slot` it). `fresh` skips idle connections (a stale retry);
        `probe` checks an idle one is not already closed by the server (`Connection.readable`).
        Raises `httpx.PoolTimeout` after `limit` seconds without either."""
        if not self._waiters:
            taken = self._take(origin, fresh, probe)
            if taken is not False:
                return taken
        with trio.move_on_after(limit) if limit is not None else trio.CancelScope():
            while True:
                await self._waiters.park()
                taken = self._take(origin, fresh, probe)
                if taken is not False:
                    return taken
        raise httpx.PoolTimeout(f"no connection free within {limit} s")

    def _take(self, origin: Origin, fresh: bool, probe: bool) -> Connection | Literal[False] | None:
        """An idle connection, None for a slot, False when the caller must wait."""
        if self._closed:
            raise RuntimeError("the transport is closed")
        idle = self._idle.get(origin)
        if idle is not None and not fresh:
            now = trio.current_time()
            while idle:
                conn = idle.pop()
                self._idle_count -= 1
                if now - conn.idle_since > self._expiry:
                    # The newest is expired, so are all older ones: close the lot.
                    self._close_idle(conn)
                    while idle:
                        self._idle_count -= 1
                        self._close_idle(idle.pop())
                elif probe and conn.readable():
                    self._close_idle(conn)
                else:
                    if not idle:
                        del self._idle[origin]
                    conn.reused = True
                    return conn
            del self._idle[origin]
        if self._open < self._max_connections:
            self._open += 1
            return None
        if self._idle_count:
            # Its slot passes straight to the caller: nobody else is woken for it.
            self._close_idle(self._oldest_idle(), wake=False)
            self._open += 1
            return None
        return False

    def _oldest_idle(self) -> Connection:
        """Remove and return the connection idle longest, whatever its origin."""
        oldest: list[Connection] | None = None
        for conns in self._idle.values():
            if oldest is None or conns[0].idle_since < oldest[0].idle_since:
                oldest = conns
        assert oldest is not None
        self._idle_count -= 1
        conn = oldest.pop(0)
        if not oldest:
            del self._idle[conn.origin]
        return conn

    def _close_idle(self, conn: Connection, *, wake: bool = True) -> None:
        conn.close()
        self._all.discard(conn)
        self._open -= 1
        if wake and self._waiters:
            self._waiters.unpark()

    def opened(self, conn: Connection) -> None:
        """A slot from `checkout` became this open connection (it counts already)."""
        if self._closed:
            conn.close()  # the transport was closed while it was connecting
            self.give_back_slot()
            raise RuntimeError("the transport is closed")
        self._all.add(conn)

    def give_back_slot(self) -> None:
        """A slot from `checkout` was not turned into a connection."""
        self._open -= 1
        if self._waiters:
            self._waiters.unpark()

    def release(self, conn: Connection, reusable: bool) -> None:
        """The connection's response is over: keep it idle if `reusable`, else close it."""
        if not reusable or self._closed or self._max_idle == 0:
            self.discard(conn)
            return
        if self._idle_count >= self._max_idle:
            self._close_idle(self._oldest_idle())
        conn.idle_since = trio.current_time()
        idle = self._idle.get(conn.origin)
        if idle is None:
            self._idle[conn.origin] = [conn]
        else:
            idle.append(conn)
        self._idle_count += 1
        if self._waiters:
            self._waiters.unpark()

    def discard(self, conn: Connection) -> None:
        """Close a checked-out connection (failed, half-read or not reusable)."""
        conn.close()
        self._all.discard(conn)
        self._open -= 1
        if self._waiters:
            self._waiters.unpark()

    def close(self) -> None:
        """Close every connection, idle or in use, and refuse new checkouts (waiters get
        RuntimeError). A response being read then fails with `httpx.ReadError`; its
        connection stays counted until its reader discards it."""
        self._closed = True
        for conn in self._all:
            conn.close()
        for conns in self._idle.values():
            for conn in conns:
                self._all.discard(conn)
                self._open -= 1
        self._idle.clear()
        self._idle_count = 0
        self._waiters.unpark_all()
