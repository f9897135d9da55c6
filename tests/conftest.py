"""Options of the whole suite (a conftest below `tests/` would add them only when its folder is
named on the command line)."""

from __future__ import annotations

import pytest

DEFAULT_SEEDS = 200
"""The transport fuzz's seed count by default: a count CI runs in seconds."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="seeds of the transport differential fuzz (tests/transport/test_fuzz.py)",
    )
