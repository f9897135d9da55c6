"""The crawl's work as a Redis stream read by one consumer group.

Redis does the bookkeeping a distributed crawl needs, so none of it is written here:

- the planner appends each batch as an entry (`enqueue`), then marks planning done (`planned`);
- a worker reads new entries as a consumer of the group (``XREADGROUP``); an entry read stays in
  the group's pending list, under that consumer, until it is acknowledged (`ack`), which the
  worker does only once the ledger says every item of the batch is done or failed for good;
- the pending list is the lease: an entry whose consumer has not touched it for `lease_ms`
  (killed, partitioned, hung) is claimed by the next worker that asks for work
  (``XAUTOCLAIM``), and a worker busy with a long batch keeps its entries by touching them
  (`renew`, an ``XCLAIM`` to itself that resets their idle time, only of the entries it still
  holds);
- the crawl is finished when planning is done, every entry has been delivered and nothing is
  pending in any consumer (`finished`): a known end, which a list popped by workers lacks.

A batch travels as JSON: the queue carries whatever JSON-able items the planner gives it.
Importing this module needs coredis; `client.connect` says which extra installs it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import attrs
import coredis
import coredis.exceptions
import coredis.response.types

GROUP = "workers"
PLANNED = "done"


@attrs.frozen
class Taken:
    """An entry a worker took: its stream id, its batch, and whether it was reclaimed from a
    consumer that went silent (rather than read new)."""

    id: str
    items: tuple[Any, ...]
    reclaimed: bool


@attrs.frozen
class Progress:
    """Where the crawl's work stands, as the queue sees it."""

    planned: bool
    entries: int
    pending: int
    undelivered: bool

    @property
    def finished(self) -> bool:
        return self.planned and not self.undelivered and self.pending == 0


class WorkQueue:
    """The stream `{prefix}:work`, its group and the `{prefix}:planned` mark, on `client`."""

    def __init__(self, client: coredis.Redis[str], prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.stream = f"{prefix}:work"
        self.planned_key = f"{prefix}:planned"
        self._group_ready = False

    async def ensure_group(self) -> None:
        """Create the stream and its group if they do not exist (any worker or the planner may
        come first; the group starts at the stream's beginning, so early entries are read)."""
        if self._group_ready:
            return
        with contextlib.suppress(coredis.exceptions.StreamDuplicateConsumerGroupError):
            await self.client.xgroup_create(self.stream, GROUP, "0", mkstream=True)
        self._group_ready = True

    def forget_group(self) -> None:
        """The stream was dropped (a new round): create its group again before using it."""
        self._group_ready = False

    async def enqueue(self, batches: Sequence[Sequence[Any]]) -> list[str]:
        """Append one entry a batch; their ids, in order."""
        await self.ensure_group()
        ids: list[str] = []
        for batch in batches:
            entry = await self.client.xadd(self.stream, {"batch": json.dumps(list(batch))})
            assert entry is not None
            ids.append(entry)
        return ids

    async def mark_planned(self) -> None:
        """Planning is done: no entry will be added. Set after the last `enqueue`."""
        await self.client.set(self.planned_key, PLANNED)

    async def take(
        self, consumer: str, *, count: int = 1, lease_ms: int, block_ms: int = 1000
    ) -> list[Taken]:
        """Up to `count` entries for `consumer`: first those whose consumer has been silent for
        `lease_ms` or more, else new ones (waiting at most `block_ms` for one)."""
        await self.ensure_group()
        answer = await self.client.xautoclaim(
            self.stream, GROUP, consumer, lease_ms, "0-0", count=count
        )
        claimed = answer[1]
        taken = [_taken(entry, reclaimed=True) for entry in claimed if not isinstance(entry, str)]
        if taken:
            return taken
        read = await self.client.xreadgroup(
            GROUP, consumer, streams={self.stream: ">"}, count=count, block=block_ms
        )
        entries = () if not read else read.get(self.stream, ())
        return [_taken(entry, reclaimed=False) for entry in entries]

    async def renew(self, consumer: str, ids: Sequence[str]) -> int:
        """Keep `consumer`'s lease on `ids` (their idle time starts again); how many it still
        held. An entry already reclaimed by another consumer stays with that one: the check
        and the claim are one script, so no reclaim comes between them."""
        if not ids:
            return 0
        script = self.client.register_script(_RENEW)
        kept: object = await script(keys=[self.stream], args=[GROUP, consumer, *ids])
        return int(str(kept))

    async def ack(self, ids: Sequence[str]) -> int:
        """Done with `ids` for good; how many were still pending."""
        if not ids:
            return 0
        return await self.client.xack(self.stream, GROUP, list(ids))

    async def holders(self, limit: int = 1000) -> dict[str, str]:
        """Who holds what: each pending entry's id and its consumer (at most `limit`)."""
        pending = await self.client.xpending(self.stream, GROUP, start="-", end="+", count=limit)
        return {
            str(entry.identifier): str(entry.consumer)
            for entry in pending
            if isinstance(entry, coredis.response.types.StreamPendingExt)
        }

    async def progress(self) -> Progress:
        """Planning done? Entries delivered? Any pending? Read in that order: once planning is
        done the stream's last id no longer moves, and one ``XINFO GROUPS`` gives the group's
        pending count and last delivered id together."""
        await self.ensure_group()
        planned = await self.client.get(self.planned_key) == PLANNED
        stream = await self.client.xinfo_stream(self.stream)
        groups = await self.client.xinfo_groups(self.stream)
        group = next(info for info in groups if info["name"] == GROUP)
        last = str(stream["last-generated-id"])
        delivered = str(group["last-delivered-id"])
        return Progress(
            planned=planned,
            entries=int(stream["length"]),
            pending=int(group["pending"] or 0),
            undelivered=_stream_id(delivered) < _stream_id(last),
        )


_RENEW = """
local kept = 0
for i = 3, #ARGV do
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if entry[1] and entry[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept = kept + 1
  end
end
return kept
"""


def _stream_id(text: str) -> tuple[int, int]:
    millis, _, sequence = text.partition("-")
    return int(millis), int(sequence or 0)


def _taken(entry: Any, *, reclaimed: bool) -> Taken:
    items = json.loads(entry.field_values["batch"])
    return Taken(str(entry.identifier), tuple(items), reclaimed)
