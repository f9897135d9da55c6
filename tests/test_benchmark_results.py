"""`benchmarks/run.py` keeps the committed full-run results: a quick or partial run writes
elsewhere; its CPU figures count every process a contender starts."""

from __future__ import annotations

import importlib.util
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
RUN = BENCHMARKS / "run.py"


def load_run() -> Any:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # run.py imports its neighbours by name
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("quick", "products", "rounds", "only", "stem"),
    [
        (False, None, None, None, "latest"),
        (True, None, None, None, "quick"),
        (False, 1000, None, None, "quick"),
        (False, None, 2, None, "quick"),
        (False, None, None, "trio_crawl", "quick"),
    ],
)
def test_only_the_full_run_writes_the_committed_results(
    quick: bool, products: int | None, rounds: int | None, only: str | None, stem: str
) -> None:
    run = load_run()
    assert run.results_stem(quick, products, rounds, only) == stem


ORPHANING_CONTENDER = """
import json, subprocess, sys, time
# A worker that burns CPU for a while, left running: this process exits without waiting.
subprocess.Popen([sys.executable, "-c", "import time\\nend = time.process_time() + 0.6\\n"
                  "while time.process_time() < end: pass"])
print(json.dumps({"seconds": 0.1, "list_pages": 1, "details": 1, "products": 1}))
"""


def test_the_cpu_of_a_process_the_contender_left_running_is_counted(tmp_path: Path) -> None:
    run = load_run()
    script = tmp_path / "orphaning.py"
    script.write_text(textwrap.dedent(ORPHANING_CONTENDER))
    contender = run.Contender("orphaning", str(script))
    result, measures, _ = run.run_contender(
        contender, "http://127.0.0.1:9", concurrency=1, timeout=60
    )
    assert result is not None and result["details"] == 1
    assert measures["orphans"] == 1
    # The worker's 0.6 s are in the contender's CPU, though it never waited for it.
    assert measures["cpu"] >= 0.55


def test_cpu_per_page_and_its_ratios_reach_the_table() -> None:
    run = load_run()
    runs = []
    for name, cpu in (("trio_crawl", 2.0), ("aiohttp", 1.0)):
        one = run.Run(name, 1, valid=True, seconds=1.0, wall=1.0, cpu=cpu, pages=1000)
        one.pages_per_sec = 1000.0
        one.cpu_ms_per_page = 1000 * cpu / 1000
        runs.append(one)
    summary = run.summarise(runs, ["trio_crawl", "aiohttp"])
    cpu = run.cpu_ratios(summary)
    assert cpu["aiohttp"] == pytest.approx(2.0)
    assert math.isnan(cpu["scrapy"])
    report = {"summary": summary, "ratios": run.ratios(summary), "cpu_ratios": cpu}
    rows = run.table(report)
    assert "CPU ms/page" in rows[0]
    assert "| 2.000 (2.000-2.000) |" in rows[2] and rows[3].endswith("| 1.00 | 2.00 |")
    goals = run.goals_line(run.ratios(summary), cpu)
    assert "CPU per page vs aiohttp 2.00 (goal <= 1.2: NOT met)" in goals
    assert "pages/s vs aiohttp 1.00 (goal >= 1: met)" in goals
    assert "pages/s vs scrapy nan (goal >= 5: n/a)" in goals


def load_stores() -> Any:
    spec = importlib.util.spec_from_file_location("benchmarks_stores", BENCHMARKS / "stores.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stores_benchmark_prints_a_dash_for_a_store_without_a_server() -> None:
    seconds = load_stores().seconds
    assert seconds(math.nan).strip() == "—"
    assert seconds(0.14) == "  0.14 s"
    # The columns stay aligned whichever is printed.
    assert len(seconds(math.nan)) == len(seconds(1.5))
