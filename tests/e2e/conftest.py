"""End-to-end crawls against the demo catalogue served in-process on 127.0.0.1.

The clock is trio's MockClock with a small autojump threshold: it jumps only after 20 ms of
real idleness, so loopback I/O and SQLite's worker threads (real time) run normally while
timeouts, backoff and slow responses (mock time) pass instantly.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import CrawlConfig
from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, serve_demo


@pytest.fixture
def lazy_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0.02)


@asynccontextmanager
async def demo_server(
    catalogue: DemoCatalogue, faults: FaultConfig | None = None, **options: Any
) -> AsyncIterator[DemoServer]:
    async with trio.open_nursery() as nursery:
        server: DemoServer = await nursery.start(
            functools.partial(serve_demo, catalogue, faults=faults or FaultConfig(), **options)
        )
        yield server
        nursery.cancel_scope.cancel()


def crawl_config(**sections: dict[str, Any]) -> CrawlConfig:
    data: dict[str, Any] = {
        "crawl": {"strategy": "full", "request_timeout_secs": 5},
        "rate_limit": {"requests_per_second": 0},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return CrawlConfig.from_dict(data)


def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "crawl.db")
