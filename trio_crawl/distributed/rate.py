"""A request rate shared by every worker of a crawl: GCRA (the generic cell rate algorithm) in
one Lua script on Redis.

GCRA keeps a single number a key, the theoretical arrival time (TAT) of the next request: a
request may go when ``now >= TAT + interval - burst·interval``, and going moves TAT on by one
interval. That is a token bucket of `burst` tokens refilled at `rate` a second, with no
refill bookkeeping, so the whole check-and-take fits one script that Redis runs atomically.
The script reads the time from Redis (``TIME``), so every worker on every machine is measured
against one clock, whatever their own clocks say. It answers how long to wait instead of
waiting: the caller sleeps on trio's clock (cancellable, and a `MockClock` in tests) and asks
again, so nothing is held in Redis while a worker waits, and a killed worker holds nothing.

The key expires once its TAT has passed: an idle crawl leaves no keys behind.
"""

from __future__ import annotations

import coredis
import trio

_MICROS = 1_000_000

# KEYS[1]: the TAT key. ARGV[1]: the interval between requests (µs), ARGV[2]: the burst.
# Returns 0 when the request may go (and books it), else the µs to wait before asking again.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local next_tat = tat + interval
local allowed_at = next_tat - burst * interval
if now < allowed_at then
  return math.ceil(allowed_at - now)
end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX',
           math.ceil((next_tat - now) / 1000) + 1)
return 0
"""


class SharedRate:
    """`acquire(key, rate, burst)` returns at most `rate` times a second on average, summed over
    every process that uses the same Redis and key; `burst` requests may go back to back after
    a quiet spell."""

    def __init__(self, client: coredis.Redis[str]) -> None:
        self._script = client.register_script(_GCRA)

    async def wait_for(self, key: str, rate: float, burst: float = 1.0) -> float:
        """Book a request on `key` if one may go now (0.0), else the seconds to wait first
        (nothing is booked then)."""
        interval = max(1, round(_MICROS / rate))
        answer: object = await self._script(keys=[key], args=[interval, burst])
        return int(str(answer)) / _MICROS

    async def acquire(self, key: str, rate: float, burst: float = 1.0) -> None:
        """Wait until a request on `key` may go (at once when `rate` is 0 or less)."""
        while rate > 0:
            wait = await self.wait_for(key, rate, burst)
            if not wait:
                return
            await trio.sleep(wait)
