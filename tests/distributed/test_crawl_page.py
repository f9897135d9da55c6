"""The whole crawl on one web page: every worker publishes its sessions' events to a Redis
stream without ever waiting for Redis, and `trio-crawl web --redis` merges them.

Real redis-server, PostgreSQL, demo server and worker processes; the page is read over real
HTTP on 127.0.0.1 (hypercorn), as a browser's script reads it."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from trio_crawl.demo import DemoCatalogue, serve_demo
from trio_crawl.distributed.client import connect
from trio_crawl.distributed.control import ControlChannel
from trio_crawl.distributed.crawl import plan_crawl, work
from trio_crawl.distributed.crawl_page import CrawlFold, CrawlView
from trio_crawl.distributed.events import EventPublisher, event_record, publishing
from trio_crawl.distributed.queue import WorkQueue
from trio_crawl.engine import events as ev
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store
from trio_crawl.ui.web import WebAddress, open_page
from trio_crawl.ui.web.access import TOKEN_HEADER

from .crawl_config import distributed_config
from .steering_runs import Crawl, run, start, stored, until, write_config

PRODUCTS = 60  # 5 list pages, one a batch
GUARD_SECS = 90  # against a hang, not a wait for work


def test_the_fold_counts_each_worker_and_the_whole_crawl() -> None:
    fold = CrawlFold()
    ended = functools.partial(ev.SessionCompleted, status="completed")
    for seq, (worker, saved) in enumerate((("a", 12), ("b", 12), ("a", 11))):
        record = event_record(worker, "s", ended(seq=seq, ts=1.0, summary=None))
        data = json.loads(record["data"])
        data.update(products_saved=saved, products_failed=12 - saved, pages_ok=1)
        fold.apply({**record, "data": json.dumps(data)})
        fold.apply({**record, "data": json.dumps(data)})  # written twice: folded once
    fold.apply(
        event_record(
            "b", "s", ev.ItemFailed(3, 2.0, 1, "product_details", "x", "http://h/x", "gone", 5, "")
        )
    )
    snapshot = fold.snapshot()
    assert snapshot["totals"]["products_saved"] == 35
    assert snapshot["totals"]["products_failed"] == 1
    assert snapshot["totals"]["batches"] == 3
    rows = {row["name"]: row for row in snapshot["workers"]}
    assert rows["a"]["counts"]["products_saved"] == 23 and rows["a"]["batches"] == 2
    assert rows["b"]["counts"]["products_saved"] == 12 and rows["b"]["events"] == 2
    assert [note["worker"] for note in snapshot["recent"]] == ["b"]


class _SilentRedis:
    """A TCP server that takes connections and bytes and never answers: Redis stuck."""

    def __init__(self) -> None:
        self.port = 0

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async def swallow(stream: trio.SocketStream) -> None:
            while await stream.receive_some():
                pass

        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, swallow, listeners)
            task_status.started()
            await trio.sleep_forever()


@pytest.mark.slow
async def test_a_silent_redis_for_the_events_does_not_stall_the_crawl(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    redis_url, prefix = redis_target
    silent = _SilentRedis()
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery, connect(redis_url) as client:
            await nursery.start(silent.serve)
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=PRODUCTS, seed=2))
            )
            site = MatterCatalogue(base_url=server.base_url)
            queue = WorkQueue(client, prefix)
            async with open_store(pg_url, per_page=site.per_page) as store:
                await plan_crawl(distributed_config(), site=site, store=store, queue=queue)
                stuck = connect(f"redis://127.0.0.1:{silent.port}/0")
                async with stuck, publishing(stuck, prefix, "w1") as publisher:
                    worked = await work(
                        distributed_config(),
                        site=site,
                        store=store,
                        queue=queue,
                        consumer="w1",
                        lease_ms=60_000,
                        block_ms=100,
                        publisher=publisher,
                    )
            nursery.cancel_scope.cancel()
    assert worked.tally.acknowledged == PRODUCTS // 12
    assert stored(pg_url) == PRODUCTS
    # Nothing reached the stuck Redis; what the worker could not hand over is counted.
    assert publisher.published == 0
    assert publisher.dropped > 0 and not publisher.buffer


async def test_a_full_buffer_drops_new_records_and_counts_them() -> None:
    publisher = EventPublisher(None, "p", "w", buffer=3)  # type: ignore[arg-type]
    for seq in range(5):
        publisher.record("s", ev.SessionPaused(seq, 0.0))
    assert len(publisher.buffer) == 3 and publisher.dropped == 2
    assert [record["seq"] for record in publisher.buffer] == ["0", "1", "2"]


@pytest.mark.slow
async def test_the_page_merges_every_workers_events_and_steers_them_all(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    logs = [tmp_path / f"w{n}.log" for n in (1, 2)]
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery, connect(redis_url) as client:
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=PRODUCTS, seed=3))
            )
            config = write_config(tmp_path, rate=0)
            crawl = Crawl(server.base_url, pg_server.new_database(), redis_url, prefix, config)
            view = CrawlView(client, prefix, crawl.db, update_secs=0.05, status_secs=0.2)
            await nursery.start(view.run)
            async with open_page(view, WebAddress("127.0.0.1", 0), view.closing) as page:
                workers = [
                    await start(crawl.command("worker", "--name", f"w{n}"), log)
                    for n, log in zip((1, 2), logs, strict=True)
                ]
                assert (await run(crawl.command("plan"))).returncode == 0
                codes = [await worker.wait() for worker in workers]
                async with httpx.AsyncClient(base_url=page.base) as browser:

                    async def state() -> dict[str, Any]:
                        return dict((await browser.get("/api/state")).json())

                    # Each worker's last events reach Redis before it exits (bounded flush).
                    await until(
                        lambda: view.fold.totals["products_saved"] == PRODUCTS, "all counted"
                    )
                    seen = await state()
                    # The feed: its first message is the whole crawl, as the page draws it.
                    async with browser.stream("GET", "/events") as feed:
                        first = await _first_message(feed)
                    refused = await browser.post("/api/pause")
                    steered = await browser.post("/api/pause", headers={TOKEN_HEADER: page.token})
                    await until(lambda: view.control_state.paused, "the page's pause to land")
                    paused, _ = await ControlChannel(client, prefix).state()
            nursery.cancel_scope.cancel()
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert seen["mode"] == "crawl" and seen["queue"] == prefix
    assert seen["progress"]["finished"] is True
    rows = {row["name"]: row for row in seen["workers"]}
    assert set(rows) == {"w1", "w2"}
    assert sum(row["counts"]["products_saved"] for row in rows.values()) == PRODUCTS
    assert sum(row["batches"] for row in rows.values()) == seen["totals"]["batches"]
    assert seen["totals"]["products_saved"] == PRODUCTS
    assert any(f"{PRODUCTS} of {PRODUCTS} stored" in line for line in seen["lines"]), seen
    assert first["event"] == "snapshot" and first["data"]["mode"] == "crawl"
    assert {row["name"] for row in first["data"]["workers"]} == {"w1", "w2"}
    assert refused.status_code == 403 and steered.status_code == 202
    assert paused.paused


async def _first_message(response: httpx.Response) -> dict[str, Any]:
    message: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line and "event" in message:
            message["data"] = json.loads(message["data"])
            return message
        if line and not line.startswith(":"):
            field, _, value = line.partition(": ")
            message[field] = value
    raise AssertionError("the feed ended before its first message")


async def test_a_worker_that_takes_no_batch_is_still_on_the_page(
    redis_target: tuple[str, str],
) -> None:
    """A worker that joins when every batch is taken runs no session, so it has no session
    event to show; it says it joined, and the page lists it."""
    redis_url, prefix = redis_target
    with trio.fail_after(GUARD_SECS):
        async with connect(redis_url) as client:
            async with publishing(client, prefix, "idle"):
                pass
            entries = await client.xrange(f"{prefix}:events", "-", "+")
    fold = CrawlFold()
    for entry in entries:
        fold.apply({str(k): str(v) for k, v in entry.field_values.items()})
    rows = fold.snapshot()["workers"]
    assert [(row["name"], row["state"], row["batches"]) for row in rows] == [("idle", "idle", 0)]
