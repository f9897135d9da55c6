"""Live reload: `watch_config` polls the file under trio's clock and reports each change once,
keeping the last good config when a change is invalid."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from trio_crawl.config import ConfigError, CrawlConfig, watch_config

POLL = 1.0


class Recorder:
    """Collects what the watcher reports, and writes the file with a distinct mtime each time.

    Setting the mtime explicitly makes change detection independent of the filesystem's
    timestamp granularity (two writes within one tick could otherwise look identical).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changes: list[CrawlConfig] = []
        self.errors: list[ConfigError] = []
        self._stamps: Iterator[int] = itertools.count(1_000_000_000_000_000_000, 1_000_000_000)

    def write(self, text: str) -> None:
        self.path.write_text(text)
        stamp = next(self._stamps)
        os.utime(self.path, ns=(stamp, stamp))

    async def start(self, nursery: trio.Nursery, env: dict[str, str] | None = None) -> None:
        """Start the watcher; returns once it has read its baseline."""
        watch = functools.partial(
            watch_config,
            self.path,
            poll_secs=POLL,
            on_change=self.changes.append,
            on_error=self.errors.append,
            env=env if env is not None else {},
        )
        await nursery.start(watch)


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    recorder = Recorder(tmp_path / "crawl.toml")
    recorder.write("[crawl]\nbatch_size = 2\n")
    return recorder


async def test_valid_change_is_reported_after_the_next_poll(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        start = trio.current_time()
        recorder.write("[crawl]\nbatch_size = 5\n")
        await trio.sleep(POLL / 2)
        assert recorder.changes == []
        await trio.sleep(POLL)
        assert [c.crawl.batch_size for c in recorder.changes] == [5]
        assert recorder.changes[0].source == recorder.path
        assert recorder.errors == []
        assert trio.current_time() - start == pytest.approx(1.5 * POLL)
        nursery.cancel_scope.cancel()


async def test_invalid_change_is_reported_and_a_later_fix_is_picked_up(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.write("[crawl]\nbatch_size = 0\n")
        await trio.sleep(POLL * 1.5)
        assert recorder.changes == []
        assert [e.path for e in recorder.errors] == ["crawl.batch_size"]

        # The bad file stays bad: reported once, not once per poll.
        await trio.sleep(POLL * 5)
        assert len(recorder.errors) == 1

        recorder.write("[crawl]\nbatch_size = 7\n")
        await trio.sleep(POLL)
        assert [c.crawl.batch_size for c in recorder.changes] == [7]
        assert len(recorder.errors) == 1
        nursery.cancel_scope.cancel()


async def test_fixing_back_to_the_last_good_config_is_not_a_change(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.write("[crawl]\nbatch_size = -1\n")
        await trio.sleep(POLL * 1.5)
        recorder.write("[crawl]\nbatch_size = 2\n")
        await trio.sleep(POLL)
        assert recorder.changes == []
        assert len(recorder.errors) == 1
        nursery.cancel_scope.cancel()


async def test_rewrite_with_the_same_meaning_reports_nothing(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.write("# same settings, new comment\n[crawl]\nbatch_size = 2\n")
        await trio.sleep(POLL * 3)
        assert recorder.changes == []
        assert recorder.errors == []
        nursery.cancel_scope.cancel()


async def test_each_change_is_reported_once(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        for size in (3, 4, 5):
            recorder.write(f"[crawl]\nbatch_size = {size}\n")
            await trio.sleep(POLL * 2.5)
        assert [c.crawl.batch_size for c in recorder.changes] == [3, 4, 5]
        nursery.cancel_scope.cancel()


async def test_missing_file_is_reported_once_and_its_return_is_picked_up(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.path.unlink()
        await trio.sleep(POLL * 5.5)
        assert len(recorder.errors) == 1
        assert str(recorder.path) in str(recorder.errors[0])
        assert "missing" in str(recorder.errors[0])

        recorder.write("[crawl]\nbatch_size = 9\n")
        await trio.sleep(POLL)
        assert [c.crawl.batch_size for c in recorder.changes] == [9]
        assert len(recorder.errors) == 1
        nursery.cancel_scope.cancel()


async def test_started_file_invalid_then_fixed_is_reported_as_a_change(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorder = Recorder(tmp_path / "crawl.toml")
    recorder.write("[crawl]\nbatch_size = 0\n")
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.write("[crawl]\nbatch_size = 4\n")
        await trio.sleep(POLL * 1.5)
        assert [c.crawl.batch_size for c in recorder.changes] == [4]
        nursery.cancel_scope.cancel()


async def test_env_overrides_apply_to_reloads(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery, env={"TRIO_CRAWL__CONCURRENCY__SAVING": "9"})
        recorder.write("[crawl]\nbatch_size = 5\n")
        await trio.sleep(POLL * 1.5)
        assert [(c.crawl.batch_size, c.concurrency.saving) for c in recorder.changes] == [(5, 9)]
        assert recorder.errors == []
        nursery.cancel_scope.cancel()


async def test_non_positive_poll_interval_is_refused(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="poll_secs"):
        await watch_config(recorder.path, poll_secs=0, on_change=print, on_error=print, env={})


async def test_comparison_is_with_the_last_reported_config_not_the_first(
    recorder: Recorder, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        await recorder.start(nursery)
        recorder.write("[crawl]\nbatch_size = 5\n")
        await trio.sleep(POLL * 1.5)
        recorder.write("[crawl]\nbatch_size = oops\n")
        await trio.sleep(POLL)
        # back to what was last applied: nothing new to apply
        recorder.write("# fixed\n[crawl]\nbatch_size = 5\n")
        await trio.sleep(POLL)
        assert [c.crawl.batch_size for c in recorder.changes] == [5]
        assert len(recorder.errors) == 1
        nursery.cancel_scope.cancel()
