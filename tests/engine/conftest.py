"""Fake stages for engine tests: the engine must work with any named async operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl.config import CrawlConfig


def run_with_autojump(
    fn: Callable[[], Awaitable[Any]],
    clock: trio.abc.Clock | None = None,
    instruments: Sequence[trio.abc.Instrument] = (),
) -> Any:
    """`trio.run` for the engine's tests: under an autojump MockClock whether or not the test
    asks for `autojump_clock`, so no engine test ever waits on the real clock."""
    if clock is None:
        clock = trio.testing.MockClock(autojump_threshold=0)
    return trio.run(fn, clock=clock, instruments=instruments)


@pytest.hookimpl(trylast=True)  # after trio_mode has marked the async tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("trio") is not None and "/engine/" in str(item.path):
            # First, so that pytest-trio takes this runner rather than trio_mode's.
            item.add_marker(pytest.mark.trio(run=run_with_autojump), append=False)


def quick_config(**sections: dict[str, Any]) -> CrawlConfig:
    """A config with zero jitter so that mock-clock timings are exact."""
    data: dict[str, Any] = {
        "retry": {
            name: {"jitter_ms": 0}
            for name in ("list_pages", "product_details", "validation", "saving")
        }
    }
    for section, values in sections.items():
        if section == "retry":
            for stage, policy in values.items():
                data["retry"].setdefault(stage, {}).update(policy)
        else:
            data[section] = values
    return CrawlConfig.from_dict(data)


class Recorder:
    """Counts calls per item and remembers the (mock) times they happened."""

    def __init__(self) -> None:
        self.calls: dict[Any, int] = {}
        self.saved: list[Any] = []

    def handler(self, fn: Callable[[Any, int], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        async def handle(item: Any) -> Any:
            key = tuple(item) if isinstance(item, list) else item
            self.calls[key] = self.calls.get(key, 0) + 1
            return await fn(item, self.calls[key])

        return handle


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
