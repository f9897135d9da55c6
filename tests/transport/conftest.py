"""The fuzz's seed count: ``pytest tests/transport/test_fuzz.py --seeds 2000`` for a long run
(the default is a count CI runs in seconds)."""

from __future__ import annotations

import pytest

DEFAULT_SEEDS = 200


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="seeds of the transport differential fuzz (tests/transport/test_fuzz.py)",
    )


@pytest.fixture
def seeds(request: pytest.FixtureRequest) -> range:
    """The fuzz's seeds: 0 up to ``--seeds``."""
    count: int = request.config.getoption("--seeds")
    return range(count)
