"""Polite as one crawler: `trio-crawl crawl --workers 4 --redis …` against one demo host keeps
the configured rate and per-host concurrency for the whole crawl, measured at the server (each
request's arrival time, and the most requests it answered at once), not per worker.

The server answers slowly (its latency), so that requests overlap and four workers keeping
the limits each for itself would show at once: four times the rate, four times the slots."""

from __future__ import annotations

import bisect
import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.demo import DemoCatalogue, serve_demo

from ..e2e.test_interrupted_runs import _select, child_env

pytestmark = pytest.mark.slow

PRODUCTS = 120  # 10 list pages: with planning and robots.txt, about 150 requests
RATE = 40
BURST = 1  # `SharedPoliteness`'s default; the config has no burst
PER_HOST = 3
LATENCY_MS = 50
WORKERS = 4
GUARD_SECS = 120  # against a hang, not a wait for work

CONFIG = f"""\
[crawl]
strategy = "full"
batch_size = 1
page_range_limit = 1000

[rate_limit]
requests_per_second = {RATE}
per_host_concurrency = {PER_HOST}

[concurrency]
parse_processes = 0
"""


def most_in_one_second(arrivals: list[float]) -> int:
    """The most arrivals any closed window of one second holds (every window that matters
    starts at an arrival)."""
    ordered = sorted(arrivals)
    return max(
        (bisect.bisect_right(ordered, start + 1.0) - index for index, start in enumerate(ordered)),
        default=0,
    )


def test_most_in_one_second_counts_a_closed_window() -> None:
    assert most_in_one_second([]) == 0
    assert most_in_one_second([0.0, 0.5, 1.0, 1.01, 2.5]) == 3
    assert most_in_one_second([0.0, 1.0001, 2.0002]) == 1


async def test_four_workers_keep_the_rate_and_per_host_limit_of_one_crawler(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    arrivals: list[float] = []
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(
                    serve_demo, DemoCatalogue(products=PRODUCTS, seed=4), latency_ms=LATENCY_MS
                )
            )
            server.on_request = lambda _path: arrivals.append(trio.current_time())
            done = await trio.run_process(
                [
                    sys.executable, "-m", "trio_crawl", "crawl", "--base-url", server.base_url,
                    "--db", db, "--redis", redis_url, "--queue", prefix, "--workers",
                    str(WORKERS), "--config", str(config),
                ],
                capture_stdout=True, stderr=subprocess.STDOUT, check=False, env=child_env(),
            )  # fmt: skip
            nursery.cancel_scope.cancel()
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-3000:]
    assert output.count("exit 0") == WORKERS, output[-3000:]
    _, rows = _select(db, "SELECT url FROM matter")
    assert len(rows) == PRODUCTS

    busiest = most_in_one_second(arrivals)
    span = max(arrivals) - min(arrivals)
    print(
        f"{len(arrivals)} requests in {span:.2f}s at the server: at most {busiest} in one second"
        f" (rate {RATE}, burst {BURST}); at most {server.stats.peak_in_flight} in flight"
        f" (per host {PER_HOST})"
    )
    assert len(arrivals) >= 140
    assert busiest <= RATE + BURST
    assert server.stats.peak_in_flight <= PER_HOST
    # Not vacuous: the crawl pressed against the limits (with each worker keeping them for
    # itself, this crawl saw 112 requests in one second and 11 in flight).
    assert busiest >= RATE * 0.6
    assert server.stats.peak_in_flight >= 2
    assert span >= (len(arrivals) - BURST) / RATE - 0.1
