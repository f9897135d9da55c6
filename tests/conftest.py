"""Options of the whole suite (a conftest below `tests/` would add them only when its folder is
named on the command line)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import redis_server, slow_first
from .postgres_server import close_shared, shared_note, shared_server

DEFAULT_SEEDS = 200
"""The transport fuzz's seed count by default: a count CI runs in seconds."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="seeds of the transport differential fuzz (tests/transport/test_fuzz.py)",
    )
    parser.addoption(
        "--record-durations",
        type=Path,
        default=None,
        metavar="PATH",
        help="write each test's duration to PATH (tests/durations.json orders the suite)",
    )


# -- the order: longest first on every xdist worker (tests/slow_first.py) ---------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = slow_first.load()
    costs = [
        slow_first.cost(item.nodeid, item.get_closest_marker("slow") is not None, durations)
        for item in items
    ]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = slow_first.deal(items, costs, workers)


_seconds: list[tuple[str, float]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds.append((report.nodeid, report.duration))


# -- the real PostgreSQL server (tests/postgres_server.py) ------------------------------------

_worker_notes: set[str] = set()
"""Under pytest-xdist each worker process starts its own servers: what each said, gathered in
the controlling process (`pytest_testnodedown`) so that a skip is as loud as without xdist."""


def _notes() -> list[str]:
    return [note for note in (shared_note(), redis_server.shared_note()) if note is not None]


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set in an xdist worker only
    if output is not None:
        output["server_notes"] = _notes()
        return
    path = session.config.getoption("record_durations")
    if path is not None:  # (in the controlling process, which hears every worker's reports)
        slow_first.record(path, _seconds)


def pytest_testnodedown(node: Any, error: Any) -> None:
    _worker_notes.update(getattr(node, "workeroutput", {}).get("server_notes", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for note in sorted(_worker_notes | set(_notes())):
        terminalreporter.write_line(note, yellow="SKIPPED" in note, bold=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    close_shared()
    redis_server.close_shared()


@pytest.fixture(scope="session")
def pg_server() -> Any:
    return shared_server()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh, empty database of its own on the session's server."""
    return str(pg_server.new_database())


# -- the real redis-server (tests/redis_server.py) ---------------------------------------------

@pytest.fixture(scope="session")
def redis_server_() -> Any:
    return redis_server.shared_server()


@pytest.fixture
def redis_target(redis_server_: Any) -> tuple[str, str]:
    """The session's server URL and a key prefix of this test's own."""
    return str(redis_server_.url()), str(redis_server_.new_prefix())


BACKENDS = ("sqlite", "postgres")
"""The stores the contract tests run against; a third backend adds a name here and a branch in
`Backend`, not tests."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A fresh, empty database of one backend (`tests/backends.py`)."""
    from .backends import Backend

    if request.param == "postgres":
        return Backend("postgres", shared_server().new_database(), tmp_path)
    return Backend("sqlite", str(tmp_path / "crawl.db"), tmp_path)
