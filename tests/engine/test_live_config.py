"""A running session follows its config file: valid changes apply from the next attempt,
invalid ones are rejected with an event and the old config stays."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from trio_crawl import CrawlConfig, open_session
from trio_crawl.engine import ErrorKind, Stage, StageError
from trio_crawl.engine.events import ConfigRejected, ConfigReloaded, Event, SessionEnded

BASE = """
[system]
config_poll_secs = 1

[retry.product_details]
max_attempts = {attempts}
base_delay_ms = 5000
jitter_ms = 0
"""


def _write(path: Path, attempts: int) -> None:
    path.write_text(BASE.format(attempts=attempts))


async def _fail_while_rewriting(path: Path, first: int, then: int) -> tuple[int, list[Event]]:
    """Run one always-failing item from a config file with `max_attempts = first`; during the
    first attempt the file is rewritten with `then`. Returns the calls made and the events."""
    _write(path, first)
    config = CrawlConfig.load(path, env={})
    calls = 0

    async def fetch(item: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            _write(path, then)  # a tiny local file: the edit under test, not I/O to overlap
        raise StageError(ErrorKind.server_error, "502")

    events: list[Event] = []
    stages = [Stage("product_details", fetch)]
    async with open_session(config, stages=stages, items=[1]) as s, s.events() as stream:
        async for event in stream:
            events.append(event)
    return calls, events


async def test_live_change_of_max_attempts_applies_to_the_next_attempt(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    calls, events = await _fail_while_rewriting(tmp_path / "crawl.toml", 2, 6)
    assert calls == 6
    [final] = [e for e in events if isinstance(e, SessionEnded)]
    assert final.summary.failed_items[0].attempts == 6
    reloaded = [e for e in events if isinstance(e, ConfigReloaded)]
    assert len(reloaded) == 1 and reloaded[0].changed == ("retry",)


async def test_invalid_live_change_is_rejected_and_the_old_config_stays(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    calls, events = await _fail_while_rewriting(tmp_path / "crawl.toml", 3, -4)
    assert calls == 3
    rejected = [e for e in events if isinstance(e, ConfigRejected)]
    assert len(rejected) == 1
    assert "retry.product_details.max_attempts" in rejected[0].error
    assert not any(isinstance(e, ConfigReloaded) for e in events)


async def test_raising_concurrency_in_the_file_reaches_the_running_stage(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "crawl.toml"
    template = "[system]\nconfig_poll_secs = 0.5\n[crawl]\nbatch_size = 40\n"
    path.write_text(template + "[concurrency]\nproduct_details = 2\n")
    running = peak = 0

    async def fetch(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        return item

    config = CrawlConfig.load(path, env={})
    stages = [Stage("product_details", fetch)]
    start = trio.current_time()
    async with open_session(config, stages=stages, items=range(40)) as s:
        await trio.sleep(1.2)
        path.write_text(template + "[concurrency]\nproduct_details = 8\n")
        summary = await s.wait()
    assert summary.status == "completed"
    assert peak == 8
    # 2 at a time until the change is seen (t≈1.5), then 8 at a time: ~6 s, not 20
    assert trio.current_time() - start <= 7
