"""`ItemFailed`: one event for every item a session gives up on, with the summary's fields."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
import trio
import trio.testing

from trio_crawl import open_session
from trio_crawl.engine import ErrorKind, Stage, StageError
from trio_crawl.engine.events import Event, ItemFailed, StageCompleted
from trio_crawl.engine.summary import SessionSummary

from .conftest import quick_config


@attrs.frozen
class Page:
    number: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1/page/{self.number}/"


def _as_rows(summary: SessionSummary) -> Counter[tuple[Any, ...]]:
    return Counter(
        (
            f.url if f.url is not None else repr(f.item),
            f.stage,
            f.kind.value,
            f.attempts,
            f.last_error,
        )
        for f in summary.failed_items
    )


def _event_rows(events: list[Event]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (e.item, e.stage, e.kind, e.attempts, e.message)
        for e in events
        if isinstance(e, ItemFailed)
    )


async def _run(
    config: Any, stages: list[Stage], items: Any, cancel_at: float | None = None
) -> tuple[SessionSummary, list[Event]]:
    events: list[Event] = []
    async with open_session(config, stages=stages, items=items) as session:
        stream = session.events(buffer=100_000)
        async with trio.open_nursery() as nursery:
            if cancel_at is not None:

                async def cancel() -> None:
                    await trio.sleep(cancel_at)
                    session.cancel("user")

                nursery.start_soon(cancel)
            async for event in stream:
                events.append(event)
            nursery.cancel_scope.cancel()
        summary = await session.wait()
    return summary, events


async def test_every_given_up_item_is_announced_once_with_the_fields_of_failed_items(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fetch(page: Page) -> Page:
        await trio.sleep(0.01)
        if page.number % 5 == 0:
            raise StageError(ErrorKind.client_error, f"404 for {page.url}")
        if page.number % 7 == 0:
            raise StageError(ErrorKind.network_timeout, f"read timeout on {page.url}")
        return page

    async def check(page: Page) -> Page:
        if page.number % 11 == 0:
            raise StageError(ErrorKind.validation_error, "bad record")
        return page

    config = quick_config(retry={"list_pages": {"max_attempts": 3, "base_delay_ms": 100}})
    stages = [Stage("list_pages", fetch), Stage("validation", check)]
    summary, events = await _run(config, stages, [Page(n) for n in range(1, 61)])
    assert summary.status == "partial"
    assert len(summary.failed_items) > 10
    assert _event_rows(events) == _as_rows(summary)
    # Retried to the end: the attempts the policy allowed, as in failed_items.
    timeouts = [e for e in events if isinstance(e, ItemFailed) and e.kind == "network_timeout"]
    assert timeouts and {e.attempts for e in timeouts} == {3}
    assert all(e.url is not None and e.url in e.message for e in timeouts)
    # As it happens: an item given up on is announced before its stage reports.
    for failed in (e for e in events if isinstance(e, ItemFailed)):
        completed = next(
            e
            for e in events
            if isinstance(e, StageCompleted)
            and (e.batch_id, e.stage) == (failed.batch_id, failed.stage)
        )
        assert failed.seq < completed.seq


async def test_items_a_stop_leaves_unfinished_or_unstarted_are_announced_too(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(item: int) -> int:
        await trio.sleep(1)
        return item

    config = quick_config(crawl={"batch_size": 4}, concurrency={"list_pages": 2})
    stages = [Stage("list_pages", slow), Stage("product_details", slow)]
    summary, events = await _run(config, stages, range(40), cancel_at=2.5)
    assert summary.status == "cancelled"
    kinds = Counter(f.kind for f in summary.failed_items)
    assert kinds[ErrorKind.cancelled] > 20  # in flight, not started, batches never run
    assert _event_rows(events) == _as_rows(summary)
    assert {e.item for e in events if isinstance(e, ItemFailed)} >= {repr(39)}
