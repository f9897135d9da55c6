"""The collector settings the command line uses while a crawl runs (`cli.collector`), and that
it leaves the process as it found it."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trio_crawl.cli.collector import YOUNG_THRESHOLD, crawl_collector


def test_the_crawl_collector_freezes_start_up_raises_the_young_threshold_and_undoes_both() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with crawl_collector():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before


def test_a_failing_crawl_still_gets_the_settings_back() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), crawl_collector():
        raise RuntimeError("the crawl failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


# Run in a process of its own: `trio.run` is wrapped to note the collector's settings when the
# crawl starts, then the real command runs the real demo crawl.
_PROBE = """
import gc, json, sys
import trio
from trio_crawl.cli.commands import main
seen = []
real_run = trio.run
def noting_run(*args, **kwargs):
    seen.append([gc.get_threshold()[0], gc.get_freeze_count()])
    return real_run(*args, **kwargs)
trio.run = noting_run
code = main(["demo", "--products", "24", "--db", sys.argv[1], "--no-dashboard", "-q"])
after = [gc.get_threshold()[0], gc.get_freeze_count()]
print(json.dumps({"code": code, "seen": seen, "after": after}))
"""


@pytest.mark.slow
def test_the_demo_command_crawls_under_the_crawl_collector_and_restores_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "demo.db")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    assert len(report["seen"]) == 1
    threshold, frozen = report["seen"][0]
    assert threshold == YOUNG_THRESHOLD
    assert frozen > 1000  # what start-up made: the modules, their classes and functions
    assert report["after"] == [gc.get_threshold()[0], 0]
