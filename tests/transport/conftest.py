"""The fuzz's seeds: ``pytest --seeds 2000`` (or with `tests/transport/test_fuzz.py`) for a long
run; the option itself is the suite's (`tests/conftest.py`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def seeds(request: pytest.FixtureRequest) -> range:
    """The fuzz's seeds: 0 up to ``--seeds``."""
    count: int = request.config.getoption("--seeds")
    return range(count)
