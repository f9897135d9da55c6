"""Per-host concurrency shared by every worker of a crawl: a counting semaphore held in Redis.

A host's slots are a sorted set: each member is one holder (a request in flight), scored by
when its hold expires on Redis's clock (``TIME``). Taking a slot is one script: drop the
expired holders, then add this one if fewer than the limit remain. A worker renews the holds
it has while their requests run (`renew`, one script a host), and gives them back when its
requests no longer need them (`release`); a worker that is SIGKILLed renews nothing, so its
slots expire and come back to the others by themselves, a lease like the work queue's.

A slot that is not free is asked for again after a short sleep on trio's clock, a little
longer each time (bounded): Redis has no blocking wait on a sorted set, and a poll that holds
nothing lets a killed waiter cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import coredis
import trio

# KEYS[1]: the host's set. ARGV[1]: the holder, ARGV[2]: the limit, ARGV[3]: the hold (ms).
# Returns 1 when the slot is taken, else 0.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
local hold = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
redis.call('PEXPIRE', KEYS[1], hold * 2)
return 1
"""

# KEYS[1]: the host's set. ARGV[1]: the hold (ms), ARGV[2..]: holders. Extends the holds still
# in the set (one whose hold lapsed is not brought back: its slot may be someone else's now).
# Returns how many were extended.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[1])
local kept = 0
for i = 2, #ARGV do
  local until_ = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if until_ and tonumber(until_) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + hold, ARGV[i])
    kept = kept + 1
  end
end
if kept > 0 then
  redis.call('PEXPIRE', KEYS[1], hold * 2)
end
return kept
"""

# KEYS[1]: the host's set. Returns how many holds have not lapsed.
_HELD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""

FIRST_POLL_SECS = 0.002
LAST_POLL_SECS = 0.05


class HostSlots:
    """At most `limit` holders at once of one key's slots, summed over every process that uses
    the same Redis and key; a hold lapses `hold_secs` after it was taken or last renewed."""

    def __init__(self, client: coredis.Redis[str], hold_secs: float) -> None:
        self._client = client
        self._hold_ms = max(1, round(hold_secs * 1000))
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._held = client.register_script(_HELD)

    async def try_acquire(self, key: str, holder: str, limit: int) -> bool:
        """Take a slot of `key` for `holder` if fewer than `limit` are held."""
        taken: object = await self._acquire(keys=[key], args=[holder, limit, self._hold_ms])
        return int(str(taken)) == 1

    async def acquire(self, key: str, holder: str, limit: int) -> None:
        """Wait until `holder` holds a slot of `key`."""
        poll = FIRST_POLL_SECS
        while not await self.try_acquire(key, holder, limit):
            await trio.sleep(poll)
            poll = min(LAST_POLL_SECS, poll * 2)

    async def release(self, key: str, holders: Sequence[str]) -> None:
        """Give the slots of `key` that `holders` hold back."""
        await self._client.zrem(key, list(holders))

    async def renew(self, key: str, holders: Iterable[str]) -> int:
        """Extend the holds of `holders` on `key`; how many were still held."""
        names = list(holders)
        if not names:
            return 0
        kept: object = await self._renew(keys=[key], args=[self._hold_ms, *names])
        return int(str(kept))

    async def held(self, key: str) -> int:
        """How many slots of `key` are held now (lapsed holds not counted)."""
        held: object = await self._held(keys=[key], args=[])
        return int(str(held))
