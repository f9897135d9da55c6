"""`trio-crawl status` as a user runs it: a real subprocess, on this checkout's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .postgres_server import PASSWORD, shared_server
from .stores.status_dbs import BASE, all_done, with_holes

CLI = [sys.executable, "-m", "trio_crawl.cli"]
CHECKOUT = Path(__file__).resolve().parent.parent


def status(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [*CLI, "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )


def test_status_prints_the_holes_failures_runs_and_the_command_to_continue(
    tmp_path: Path,
) -> None:
    with_holes(tmp_path / "crawl.db")

    result = status("--db", "crawl.db", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "database:  crawl.db"
    assert "5..9 (page 3), 20 (page 2)" in result.stdout
    assert "parse_error      4  http://127.0.0.1:8000/products/p05" in result.stdout
    assert "s2  interrupted" in result.stdout
    assert lines[-1] == (
        "left: 6 products on 2 pages;"
        f" continue with: trio-crawl crawl --base-url {BASE} --db crawl.db"
    )


def test_status_json_is_the_status_as_a_document(tmp_path: Path) -> None:
    with_holes(tmp_path / "crawl.db")

    result = status("--db", "crawl.db", "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["db"] == "crawl.db"
    assert data["products"] == {"done": 30, "expected": 36, "left": 6, "delisted": 0}
    assert data["holes"]["count"] == 6
    assert [group["kind"] for group in data["not_done"]] == [
        "cancelled",
        "parse_error",
        "network_timeout",
    ]
    assert [run["status"] for run in data["runs"]] == ["partial", "interrupted", "completed"]
    assert data["continue_command"] == f"trio-crawl crawl --base-url {BASE} --db crawl.db"


def test_status_of_a_finished_crawl_says_nothing_is_left(tmp_path: Path) -> None:
    all_done(tmp_path / "done.db")

    result = status("--db", "done.db", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "nothing left: every product of the catalogue is stored"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "says"),
    [("missing.db", "does not exist"), ("notes.txt", "not an SQLite database")],
)
def test_status_of_a_file_that_is_not_a_crawl_exits_2_with_one_line(
    tmp_path: Path, name: str, says: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n")

    result = status("--db", name, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trio-crawl: database error: ")
    assert name in lines[0] and says in lines[0]
    assert not (tmp_path / "missing.db").exists()


def test_status_requires_db(tmp_path: Path) -> None:
    result = status(cwd=tmp_path)

    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "--db" in result.stderr


def test_status_of_a_postgresql_database_says_what_the_same_sqlite_file_says(
    tmp_path: Path, pg_url: str
) -> None:
    with_holes(tmp_path / "crawl.db")
    with_holes(pg_url)

    from_file = status("--db", "crawl.db", "--json", cwd=tmp_path)
    from_server = status("--db", pg_url, "--json", cwd=tmp_path)

    assert from_server.returncode == 0, from_server.stderr
    file_data, server_data = json.loads(from_file.stdout), json.loads(from_server.stdout)
    assert PASSWORD not in from_server.stdout
    shown = pg_url.replace(f":{PASSWORD}@", "@")
    assert server_data.pop("db") == shown
    assert server_data.pop("continue_command") == (
        f"trio-crawl crawl --base-url {BASE} --db {shown}"
    )
    del file_data["db"], file_data["continue_command"]
    assert server_data == file_data


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_a_crawl_that_leaves_work_ends_with_how_much_and_the_command_that_continues(
    tmp_path: Path, store: str
) -> None:
    import functools
    import shlex

    import trio

    from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo

    # No rate limit: the waits it would add check nothing here.
    (tmp_path / "c.toml").write_text(
        "[crawl]\npage_range_limit = 4\n[rate_limit]\nrequests_per_second = 0\n"
    )
    # The continue command names a server's database without its password: libpq takes it
    # from the environment.
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT), "PGPASSWORD": PASSWORD}
    db = shared_server().new_database() if store == "postgres" else "crawl.db"
    shown = db.replace(f":{PASSWORD}@", "@")
    async with trio.open_nursery() as nursery:
        catalogue = DemoCatalogue(products=120, seed=3)  # 10 list pages
        server = await nursery.start(functools.partial(serve_demo, catalogue, faults=FaultConfig()))
        command = [*CLI, "crawl", "--base-url", server.base_url, "--db", db,
                   "--config", "c.toml", "--no-dashboard"]  # fmt: skip
        last_lines = []
        for _ in range(3):
            run = await trio.run_process(command, capture_stdout=True, capture_stderr=True,
                                         cwd=tmp_path, env=env, check=False)  # fmt: skip
            assert run.returncode == 0, run.stderr.decode()
            last_lines.append(run.stdout.decode().splitlines()[-1])
            if last_lines[-1].startswith("left: "):
                printed = last_lines[-1].partition("continue with: ")[2]
                words = shlex.split(printed)
                assert words[:2] == ["trio-crawl", "crawl"]
                command = [*CLI, *words[1:], "--no-dashboard"]
        nursery.cancel_scope.cancel()
    continues = (f"continue with: trio-crawl crawl --base-url {server.base_url} --db {shown}"
                 " --config c.toml")  # fmt: skip
    assert last_lines[:2] == [
        f"left: 72 products on 6 pages; {continues}",
        f"left: 24 products on 2 pages; {continues}",
    ]
    assert not last_lines[2].startswith("left:")
    last_status_line = status("--db", db, cwd=tmp_path).stdout.splitlines()[-1]
    assert last_status_line == "nothing left: every product of the catalogue is stored"
