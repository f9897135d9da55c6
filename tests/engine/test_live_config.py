"""A running session follows its config file: valid changes apply from the next attempt,
invalid ones are rejected with an event and the old config stays."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from trio_crawl import CrawlConfig
from trio_crawl.engine import ErrorKind, Stage, StageError, open_session
from trio_crawl.engine.events import ConfigRejected, ConfigReloaded

BASE = """
[system]
config_poll_secs = 1

[retry.product_details]
max_attempts = {attempts}
base_delay_ms = 5000
jitter_ms = 0
"""


async def test_live_change_of_max_attempts_applies_to_the_next_attempt(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text(BASE.format(attempts=2))
    config = CrawlConfig.load(path, env={})
    calls = 0

    async def fetch(item: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            # while the first attempt runs, somebody raises the limit in the file
            path.write_text(BASE.format(attempts=6))
        raise StageError(ErrorKind.server_error, "502")

    events = []
    async with open_session(config, stages=[Stage("product_details", fetch)], items=[1]) as s:
        async with s.events() as stream:
            async for event in stream:
                events.append(event)
        summary = await s.wait()
    assert calls == 6
    assert summary.failed_items[0].attempts == 6
    reloaded = [e for e in events if isinstance(e, ConfigReloaded)]
    assert len(reloaded) == 1 and reloaded[0].changed == ("retry",)


async def test_invalid_live_change_is_rejected_and_the_old_config_stays(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text(BASE.format(attempts=3))
    config = CrawlConfig.load(path, env={})
    calls = 0

    async def fetch(item: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            path.write_text(BASE.format(attempts=-4))
        raise StageError(ErrorKind.server_error, "502")

    events = []
    stages = [Stage("product_details", fetch)]
    async with open_session(config, stages=stages, items=[1]) as s, s.events() as stream:
        async for event in stream:
            events.append(event)
    assert calls == 3
    rejected = [e for e in events if isinstance(e, ConfigRejected)]
    assert len(rejected) == 1
    assert "retry.product_details.max_attempts" in rejected[0].error
    assert not any(isinstance(e, ConfigReloaded) for e in events)
