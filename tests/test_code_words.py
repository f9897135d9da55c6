"""Docstrings and comments say why the code is shaped so; measured figures, which go stale,
live in benchmarks/results/ where a run reproduces them."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "trio_crawl"

# A time, a throughput, an instruction count or a share of a profile: what a measurement
# gives. Sizes (a 100 KiB head limit) are the code's own bounds, not measurements.
_FIGURE = re.compile(
    r"(?:few|\d(?:\.\d+)?) ?(?:µs|ns|ms)\b|\d ?pages/s|\d ?M instructions"
    r"|~\d+(?:\.\d+)? ?%|\d+(?:\.\d+)?x faster"
)


def test_no_measured_figures_in_the_packages_code() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _FIGURE.search(line)
    ]
    assert found == [], "\n".join(found)


def test_the_moved_figures_are_in_benchmarks_results() -> None:
    figures = PACKAGE.parent / "benchmarks" / "results" / "code_figures.md"
    text = figures.read_text(encoding="utf-8")
    for command in (
        "benchmarks/parsers.py",
        "benchmarks/transport.py",
        "benchmarks/html_parsers.py",
    ):
        assert command in text
