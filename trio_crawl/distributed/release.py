"""Giving a batch back at once: a worker that stops (cancelled, or a signal) hands its
unfinished batch to whichever worker asks next, instead of holding it until its lease runs out.

The entry stays pending (nothing is acknowledged that the ledger has not settled); its idle time
is set past any lease (``XCLAIM … IDLE``), so the next ``XAUTOCLAIM`` takes it. The check that
the worker still holds it and the claim are one script: an entry another worker reclaimed
meanwhile stays with that one.
"""

from __future__ import annotations

from collections.abc import Sequence

from .queue import GROUP, WorkQueue

RELEASED_IDLE_MS = 365 * 24 * 3600 * 1000
"""Idle time a released entry gets: longer than any lease a worker is started with."""


async def release(queue: WorkQueue, consumer: str, ids: Sequence[str]) -> int:
    """Make `consumer`'s entries `ids` reclaimable now; how many it still held."""
    if not ids:
        return 0
    script = queue.client.register_script(_RELEASE)
    released: object = await script(
        keys=[queue.stream], args=[GROUP, consumer, RELEASED_IDLE_MS, *ids]
    )
    return int(str(released))


_RELEASE = """
local released = 0
for i = 4, #ARGV do
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if entry[1] and entry[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    released = released + 1
  end
end
return released
"""
