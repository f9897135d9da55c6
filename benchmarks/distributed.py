"""A crawl shared through Redis: how it scales with workers, and what the Redis path costs.

    .venv/bin/python benchmarks/distributed.py
    options: --products 2400  --latency 50  --in-flight 8  --workers 1,2,4
             --overhead-products 4000  --rounds 3

Starts its own redis-server and PostgreSQL server (as the tests start theirs:
`tests/redis_server.py`, `tests/postgres_server.py`) and a demo server in this process.

**Scaling**: the demo server delays every response by ``--latency`` ms, and each worker keeps at
most ``--in-flight`` requests open (``max_connections``), so one worker's throughput is bounded
by in-flight / latency, not by the CPU; the crawl's per-host limit is set to twice workers ·
in-flight, so the shared politeness does not cap the crawl instead. For each worker count, in
one run: a fresh database and queue, ``trio-crawl plan``, then N ``trio-crawl worker``
processes started together; timed from their start to the last one's exit (process start-up
included). pages/s = the requests the server answered for the workers over that time; the
span (first to last request at the server, start-up left out) is printed beside it.
Goal: speed-up ≥ 0.8·N.

**Redis-path overhead**: the same catalogue without latency (CPU-bound) crawled by one
``trio-crawl crawl`` process and by ``trio-crawl crawl --workers 1 --redis …`` (plan, one
worker process, the summary), both into PostgreSQL, alternating, ``--rounds`` times. CPU
seconds of every process the crawl started (``RUSAGE_CHILDREN``), of redis-server and of the
PostgreSQL server (from /proc), per product stored; the demo server's CPU is left out (the
same work both ways). Goal: ≤ 15 % more CPU a page through Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import os
import resource
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python benchmarks/distributed.py` from a checkout
    sys.path.insert(0, str(REPO))

from trio_crawl.demo import DemoCatalogue, serve_demo  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def config_toml(*, in_flight: int, per_host: int) -> str:
    return f"""\
[crawl]
strategy = "full"
batch_size = 5
page_range_limit = 100000

[rate_limit]
requests_per_second = 0
per_host_concurrency = {per_host}

[concurrency]
list_pages = {max(1, in_flight // 2)}
product_details = {in_flight}
max_connections = {in_flight}
parse_processes = 0
"""


def proc_cpu(pid: int, *, children: bool = False) -> float:
    """User + system seconds of `pid` so far (with its reaped children's, if asked)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@attrs.define
class Servers:
    redis: Any
    postgres: Any
    prefixes: int = 0

    def prefix(self) -> str:
        self.prefixes += 1
        return f"bench{os.getpid()}-{self.prefixes}"

    def cpu(self) -> tuple[float, float]:
        """(redis-server, PostgreSQL) CPU seconds so far."""
        pg = 0.0
        for index, pid in enumerate(self.postgres.server_pids()):
            # A backend that ended meanwhile: its time is in the postmaster's children's.
            with contextlib.suppress(OSError):
                pg += proc_cpu(pid, children=index == 0)
        return proc_cpu(self.redis.process.pid), pg


def command(name: str, base_url: str, db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "trio_crawl", name, "--base-url", base_url, "--db", db, *extra]


async def run(argv: list[str]) -> None:
    done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv[:4])} … exited {done.returncode}:\n{output}")


@attrs.frozen
class Scaled:
    workers: int
    seconds: float
    requests: int
    products: int
    cpu: float
    """CPU seconds of the worker processes, redis-server and PostgreSQL."""
    span: float
    """From the workers' first request to their last, at the server."""

    @property
    def pages_per_sec(self) -> float:
        return self.requests / self.seconds


async def scale_once(
    servers: Servers, server: Any, workers: int, config: Path, products: int
) -> Scaled:
    db = servers.postgres.new_database("scale")
    prefix = servers.prefix()
    redis = ("--redis", servers.redis.url(), "--queue", prefix, "--config", str(config))
    await run(command("plan", server.base_url, db, *redis))
    arrivals: list[float] = []
    server.on_request = lambda _path: arrivals.append(trio.current_time())
    before, servers_before = server.stats.requests, sum(servers.cpu())
    cpu_before, started = children_cpu(), trio.current_time()
    async with trio.open_nursery() as nursery:
        for number in range(workers):
            worker = command("worker", server.base_url, db, *redis, "--name", f"w{number}")
            nursery.start_soon(run, worker)
    seconds = trio.current_time() - started
    cpu = children_cpu() - cpu_before + sum(servers.cpu()) - servers_before
    stored = await trio.to_thread.run_sync(count_products, db)
    if stored != products:
        raise SystemExit(f"{workers} workers stored {stored} products of {products}")
    server.on_request = None
    span = arrivals[-1] - arrivals[0] if arrivals else math.nan
    return Scaled(workers, seconds, server.stats.requests - before, stored, cpu, span)


def count_products(db: str) -> int:
    import psycopg

    with psycopg.connect(db) as connection:
        row = connection.execute("SELECT count(*) FROM matter").fetchone()
    return int(row[0]) if row else 0


@attrs.frozen
class Spent:
    path: str
    seconds: float
    crawl_cpu: float
    redis_cpu: float
    pg_cpu: float
    products: int

    @property
    def cpu_ms_per_product(self) -> float:
        return 1000 * (self.crawl_cpu + self.redis_cpu + self.pg_cpu) / self.products


async def overhead_once(
    servers: Servers, base_url: str, config: Path, products: int, redis_path: bool
) -> Spent:
    db = servers.postgres.new_database("cost")
    extra = ["--config", str(config)]
    if redis_path:
        extra += ["--workers", "1", "--redis", servers.redis.url(), "--queue", servers.prefix()]
    redis_before, pg_before = servers.cpu()
    cpu_before, started = children_cpu(), trio.current_time()
    await run(command("crawl", base_url, db, *extra))
    seconds, crawl_cpu = trio.current_time() - started, children_cpu() - cpu_before
    redis_after, pg_after = servers.cpu()
    stored = await trio.to_thread.run_sync(count_products, db)
    if stored != products:
        raise SystemExit(f"the crawl stored {stored} products of {products}")
    return Spent(
        "redis, 1 worker" if redis_path else "one process",
        seconds,
        crawl_cpu,
        redis_after - redis_before,
        pg_after - pg_before,
        stored,
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def main_async(args: argparse.Namespace, servers: Servers, workdir: Path) -> None:
    counts = [int(n) for n in args.workers.split(",") if n]
    scale_config = workdir / "scale.toml"
    # Twice what the workers can have in flight: the shared per-host limit must not be what
    # bounds the crawl here.
    per_host = 2 * max(counts, default=1) * args.in_flight
    scale_config.write_text(config_toml(in_flight=args.in_flight, per_host=per_host))
    results: list[Scaled] = []
    async with trio.open_nursery() as nursery:
        slow = functools.partial(
            serve_demo, DemoCatalogue(products=args.products, seed=5), latency_ms=args.latency
        )
        server = await nursery.start(slow)
        for workers in counts:  # none: the overhead only
            result = await scale_once(servers, server, workers, scale_config, args.products)
            log(
                f"{workers} worker(s): {result.pages_per_sec:.0f} pages/s ({result.seconds:.1f}s,"
                f" {result.cpu:.1f} CPU s; load average {os.getloadavg()[0]:.1f})"
            )
            results.append(result)
        nursery.cancel_scope.cancel()

    cost_config = workdir / "cost.toml"
    cost_config.write_text(config_toml(in_flight=32, per_host=32))
    spent: dict[str, list[Spent]] = {"one process": [], "redis, 1 worker": []}
    async with trio.open_nursery() as nursery:
        fast = functools.partial(serve_demo, DemoCatalogue(products=args.overhead_products, seed=6))
        server = await nursery.start(fast)
        for round_ in range(1, args.rounds + 1):
            for redis_path in (False, True):
                one = await overhead_once(
                    servers, server.base_url, cost_config, args.overhead_products, redis_path
                )
                log(
                    f"round {round_} {one.path}: {one.seconds:.2f}s, crawl {one.crawl_cpu:.2f}"
                    f" redis {one.redis_cpu:.2f} postgres {one.pg_cpu:.2f} CPU s,"
                    f" {one.cpu_ms_per_product:.2f} CPU ms/product"
                )
                spent[one.path].append(one)
        nursery.cancel_scope.cancel()
    report(args, results, spent)


def report(
    args: argparse.Namespace, results: Sequence[Scaled], spent: dict[str, list[Spent]]
) -> None:
    base = results[0].pages_per_sec / results[0].workers if results else 1.0
    print(
        f"## Scaling: {args.products} products, demo server latency {args.latency} ms, each worker"
        f" at most {args.in_flight} requests in flight (latency-bound, not CPU-bound: one worker"
        f" can ask at most {1000 * args.in_flight / args.latency:.0f} pages/s)\n"
    )
    print(
        "| workers | seconds | pages/s | speed-up | goal ≥ 0.8·N | CPU s (workers, Redis, PG)"
        " | span s | pages/s over the span |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        speedup = result.pages_per_sec / base
        goal = "met" if speedup >= 0.8 * result.workers else "NOT met"
        print(
            f"| {result.workers} | {result.seconds:.1f} | {result.pages_per_sec:.0f}"
            f" | {speedup:.2f}x | {goal} ({0.8 * result.workers:.1f}) | {result.cpu:.1f}"
            f" | {result.span:.1f} | {result.requests / result.span:.0f} |"
        )
    print(
        f"\n## Redis-path overhead: {args.overhead_products} products, no latency (CPU-bound),"
        f" into PostgreSQL, median of {args.rounds} rounds\n"
    )
    print(
        "| path | seconds | products/s | crawl CPU s | redis CPU s | PostgreSQL CPU s"
        " | CPU ms/product |"
    )
    print("|---|---|---|---|---|---|---|")
    medians: dict[str, float] = {}
    if not all(spent.values()):
        return
    for path, runs in spent.items():
        def median(key: str, runs: list[Spent] = runs) -> float:
            return float(statistics.median(getattr(run, key) for run in runs))

        medians[path] = median("cpu_ms_per_product")
        print(
            f"| {path} | {median('seconds'):.2f} | {args.overhead_products / median('seconds'):.0f}"
            f" | {median('crawl_cpu'):.2f} | {median('redis_cpu'):.2f} | {median('pg_cpu'):.2f}"
            f" | {medians[path]:.2f} |"
        )
    extra = medians["redis, 1 worker"] / medians["one process"] - 1
    print(
        f"\nRedis path: {100 * extra:+.0f} % CPU a product"
        f" (goal ≤ +15 %: {'met' if extra <= 0.15 else 'NOT met'})"
    )


def machine() -> str:
    cores = os.cpu_count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{cores} cores, load average {load} (1, 5, 15 min)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2400)
    parser.add_argument("--latency", type=float, default=50)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--overhead-products", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from tests import postgres_server, redis_server

    log(f"start: {machine()}")

    redis = redis_server.start_server()
    try:
        postgres = postgres_server.start_server()
        try:
            with tempfile.TemporaryDirectory(prefix="trio-crawl-bench-") as workdir:
                trio.run(main_async, args, Servers(redis, postgres), Path(workdir))
        finally:
            postgres.close()
    finally:
        redis.close()
    print(f"\nMachine at the end: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
