"""The order the suite runs in: the longest tests first on every pytest-xdist worker.

`--dist worksteal` hands each worker one contiguous share of the collected tests and lets an
idle worker take the tail of a busy one's queue. In file order a long test near the end of a
share runs last while the other worker has nothing left to take, and the wall time is that
test's length longer than it need be. Sorted longest first and dealt out so that every share
starts with its part of the long ones, what is left at the end is short tests, which
stealing spreads evenly.

How long a test takes comes from `tests/durations.json`, written by a run with
`--record-durations tests/durations.json`; a test it does not name (new, or renamed) counts
as long when it is marked slow and as short otherwise. A stale file costs wall time, never a
test: the order changes, not what runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

DURATIONS = Path(__file__).with_name("durations.json")

UNKNOWN_SLOW_SECS = 3.0
"""The cost guessed for a slow-marked test the file does not name: long enough to go first."""

RECORDED_AT_LEAST_SECS = 0.5
"""Shorter tests are left out of the file: their order hardly matters, and the file stays short."""

Item = TypeVar("Item")


def load(path: Path = DURATIONS) -> dict[str, float]:
    """{test id: seconds} from `path`; empty when there is no such file."""
    if not path.exists():
        return {}
    return {str(name): float(secs) for name, secs in json.loads(path.read_text()).items()}


def cost(test_id: str, slow: bool, durations: dict[str, float]) -> float:
    if test_id in durations:
        return durations[test_id]
    return UNKNOWN_SLOW_SECS if slow else 0.0


def deal(items: Sequence[Item], costs: Sequence[float], workers: int) -> list[Item]:
    """`items` longest first, dealt round-robin into `workers` contiguous shares (the shares
    worksteal cuts), so each share starts with its longest; equal costs keep their order."""
    order = sorted(range(len(items)), key=lambda index: (-costs[index], index))
    ranked = [items[index] for index in order]
    return [item for share in range(workers) for item in ranked[share::workers]]


def record(path: Path, seconds: Iterable[tuple[str, float]]) -> None:
    """Write {test id: seconds} for the tests that took at least `RECORDED_AT_LEAST_SECS`
    (setup, call and teardown together)."""
    totals: dict[str, float] = {}
    for test_id, secs in seconds:
        totals[test_id] = totals.get(test_id, 0.0) + secs
    kept = {
        test_id: round(secs, 1)
        for test_id, secs in sorted(totals.items())
        if secs >= RECORDED_AT_LEAST_SECS
    }
    path.write_text(json.dumps(kept, indent=1) + "\n")
