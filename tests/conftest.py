"""Options of the whole suite (a conftest below `tests/` would add them only when its folder is
named on the command line)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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


# -- the real PostgreSQL server (tests/postgres_server.py) ------------------------------------

_worker_notes: set[str] = set()
"""Under pytest-xdist each worker process starts its own server: what each said, gathered in the
controlling process (`pytest_testnodedown`) so that a skip is as loud as without xdist."""


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set in an xdist worker only
    note = shared_note()
    if output is not None and note is not None:
        output["postgres_note"] = note


def pytest_testnodedown(node: Any, error: Any) -> None:
    note = getattr(node, "workeroutput", {}).get("postgres_note")
    if note:
        _worker_notes.add(note)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    own = shared_note()
    for note in sorted(_worker_notes | ({own} if own is not None else set())):
        terminalreporter.write_line(note, yellow="SKIPPED" in note, bold=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    close_shared()


@pytest.fixture(scope="session")
def pg_server() -> Any:
    return shared_server()


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
        return Backend("postgres", shared_server().new_database(), tmp_path)
    return Backend("sqlite", str(tmp_path / "crawl.db"), tmp_path)
