"""`benchmarks/run.py` keeps the committed full-run results: a quick or partial run writes
elsewhere."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).parent.parent / "benchmarks" / "run.py"


def load_run() -> object:
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
    assert run.results_stem(quick, products, rounds, only) == stem  # type: ignore[attr-defined]
