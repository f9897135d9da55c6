"""Options of the whole suite (a conftest below `tests/` would add them only when its folder is
named on the command line)."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Any

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


# -- the real PostgreSQL server (tests/postgres_server.py) ------------------------------------

_server: Any = None
_server_error: str | None = None


def postgres_server() -> Any:
    """The session's server, started on first use; `pytest.skip` with the reason, loudly, where
    none can be started. Stopped at the end of the session (`pytest_sessionfinish`)."""
    global _server, _server_error
    if _server is None and _server_error is None:
        from .postgres_server import ServerUnavailable, start_server

        try:
            _server = start_server()
        except (ServerUnavailable, OSError, subprocess.SubprocessError) as exc:
            _server_error = " ".join(str(exc).split())
            warnings.warn(f"PostgreSQL tests SKIPPED: {_server_error}", stacklevel=1)
    if _server is None:
        pytest.skip(f"PostgreSQL tests SKIPPED, no server: {_server_error}")
    return _server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _server
    if _server is not None:
        _server.close()
        _server = None


@pytest.fixture(scope="session")
def pg_server() -> Any:
    return postgres_server()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh, empty database of its own on the session's server."""
    return str(pg_server.new_database())


BACKENDS = ("sqlite", "postgres")
"""The stores the contract tests run against; a third backend adds a name here and a branch in
`Backend`, not tests."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A fresh, empty database of one backend (`tests/backends.py`)."""
    from .backends import Backend

    if request.param == "postgres":
        return Backend("postgres", postgres_server().new_database(), tmp_path)
    return Backend("sqlite", str(tmp_path / "crawl.db"), tmp_path)
