"""`trio-crawl plan` and `trio-crawl worker`: one crawl shared by workers on many machines
through Redis (`trio_crawl.distributed`).

`plan` runs the crawl's planning once and puts its batches in the crawl's stream; `worker`
takes batches until the crawl is finished (any number of workers, started anywhere, before or
after `plan`). Both name the crawl by `--queue` (the prefix of its Redis keys), so several
crawls can share a Redis server.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path
from typing import Any

import attrs

from ..config.model import CrawlConfig

DEFAULT_QUEUE = "trio-crawl"
DEFAULT_LEASE_SECS = 60.0


def add_crawl_options(crawl: argparse.ArgumentParser, positive_int: Any) -> None:
    """`crawl --workers N --redis URL`: the plan, then N local worker processes."""
    crawl.add_argument(
        "--workers", type=positive_int, help="plan, then run N worker processes (needs --redis)"
    )
    crawl.add_argument("--redis", help="redis://host:port/db, for --workers")
    crawl.add_argument(
        "--queue", default=DEFAULT_QUEUE, help=f"the crawl's Redis key prefix ({DEFAULT_QUEUE})"
    )


def add_commands(
    commands: Any, common: argparse.ArgumentParser, base_url: Any, db_help: str
) -> None:
    for name, help_text in (
        ("plan", "plan a crawl shared through Redis: status check, then enqueue its batches"),
        ("worker", "take a Redis-shared crawl's batches until it is finished"),
    ):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("--config", type=Path, help="TOML config file")
        command.add_argument("--base-url", type=base_url, required=True, help="catalogue base URL")
        command.add_argument("--site", default="matter", metavar="SITE", help="as for crawl")
        command.add_argument("--db", required=True, help=db_help)
        command.add_argument("--redis", required=True, help="redis://host:port/db")
        command.add_argument(
            "--queue", default=DEFAULT_QUEUE, help=f"the crawl's Redis key prefix ({DEFAULT_QUEUE})"
        )
        if name == "worker":
            command.add_argument("--name", help="this worker's consumer name (host-pid by default)")
            command.add_argument(
                "--lease-secs",
                type=float,
                default=DEFAULT_LEASE_SECS,
                help="silence after which another worker takes this one's batch"
                f" ({DEFAULT_LEASE_SECS:g})",
            )


async def run_plan(args: argparse.Namespace, config: CrawlConfig, site: Any) -> int:
    from ..distributed.client import connect
    from ..distributed.crawl import plan_crawl
    from ..distributed.politeness import open_crawl_politeness
    from ..distributed.queue import WorkQueue
    from ..stores import RecordTable, open_store

    records = RecordTable.for_site(site)
    async with (
        connect(args.redis) as client,
        open_store(args.db, per_page=site.per_page, records=records) as store,
        open_crawl_politeness(client, args.queue, config) as politeness,
    ):
        planned = await plan_crawl(
            config,
            site=site,
            store=store,
            queue=WorkQueue(client, args.queue),
            politeness=politeness,
        )
    summary = planned.summary
    assert summary is not None
    print(f"plan {summary.status}: {summary.note or summary.reason}", flush=True)
    return 0 if summary.status == "completed" else 1


async def run_worker(args: argparse.Namespace, config: CrawlConfig, site: Any) -> int:
    from ..distributed.client import connect
    from ..distributed.crawl import work
    from ..distributed.politeness import open_crawl_politeness
    from ..distributed.queue import WorkQueue
    from ..stores import RecordTable, open_store, read_status
    from ..ui.status_text import status_lines

    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    records = RecordTable.for_site(site)
    async with (
        connect(args.redis) as client,
        open_store(args.db, per_page=site.per_page, records=records) as store,
        open_crawl_politeness(client, args.queue, config) as politeness,
    ):
        tally = await work(
            config,
            site=site,
            store=store,
            queue=WorkQueue(client, args.queue),
            consumer=name,
            lease_ms=int(args.lease_secs * 1000),
            politeness=politeness,
        )
    fields = ", ".join(f"{key} {value}" for key, value in attrs.asdict(tally).items())
    print(f"worker finished: {fields}", flush=True)
    # The whole crawl, as the store holds it: every worker's items.
    print("\n".join(status_lines(read_status(args.db, 10))), flush=True)
    return 0


async def run_crawl_with_workers(args: argparse.Namespace, config: CrawlConfig, site: Any) -> int:
    """Plan, then `args.workers` worker processes on this machine; each worker's tally and
    the whole crawl's status once at the end. 0 only when the plan and every worker succeeded
    and the store holds every product of the catalogue: a worker ends well once the queue is
    finished, even when some of its products failed for good."""
    import sys

    import trio

    from ..stores import read_status
    from ..ui.status_text import status_lines

    status = await run_plan(args, config, site)
    if status != 0:
        return status
    command = [
        sys.executable, "-m", "trio_crawl", "worker", "--base-url", args.base_url,
        "--db", args.db, "--redis", args.redis, "--queue", args.queue, "--site", args.site,
    ]  # fmt: skip
    if args.config is not None:
        command += ["--config", str(args.config)]
    name = f"{socket.gethostname()}-{os.getpid()}"
    finished: dict[int, Any] = {}

    async def worker(number: int) -> None:
        finished[number] = await trio.run_process(
            [*command, "--name", f"{name}-w{number}"], capture_stdout=True, check=False
        )

    async with trio.open_nursery() as nursery:
        for number in range(1, args.workers + 1):
            nursery.start_soon(worker, number)
    failed = 0
    for number in sorted(finished):
        done = finished[number]
        lines = done.stdout.decode(errors="replace").splitlines()
        tally = next((line for line in lines if line.startswith("worker finished")), "")
        print(f"w{number}: exit {done.returncode}; {tally or 'no tally'}", flush=True)
        failed += done.returncode != 0
    status_now = read_status(args.db, 10)
    print("\n".join(status_lines(status_now)), flush=True)
    return 0 if failed == 0 and status_now.continue_with is None else 1
