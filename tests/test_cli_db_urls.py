"""``--db`` as a URL on the command line: an SQLite path or ``sqlite:///path``, a
``postgresql://`` database on the tests' own server, and every way it can be wrong, each one
line and exit 2 (nothing of the password ever printed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trio_crawl.cli.commands import main

from .postgres_server import PASSWORD, PostgresServer
from .stores.status_dbs import all_done

CLI = [sys.executable, "-m", "trio_crawl.cli"]
CHECKOUT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bad_urls(server: PostgresServer) -> dict[str, tuple[str, str]]:
    """name: (the --db, what the one line says)."""
    return {
        "unknown scheme": ("mysql://root@127.0.0.1/crawl", "unknown database URL scheme mysql://"),
        "wrong port": ("postgresql://trio@127.0.0.1:port/crawl", "wrong database URL"),
        "bad sqlite url": ("sqlite://crawl.db", "an SQLite URL is sqlite:///relative/path"),
        "refused password": (
            server.url("postgres", password="not-the-password"),
            "refused the user name or password",
        ),
        "server down": (
            f"postgresql://trio:{PASSWORD}@127.0.0.1:{_free_port()}/crawl",
            "no server answers there",
        ),
        "no such database": (server.url("never_created"), "no such database"),
    }


CASES = [
    "unknown scheme",
    "wrong port",
    "bad sqlite url",
    "refused password",
    "server down",
    "no such database",
]


@pytest.mark.parametrize("case", CASES)
def test_status_of_a_bad_db_exits_2_with_one_line_without_the_password(
    pg_server: PostgresServer, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db, says = bad_urls(pg_server)[case]

    assert main(["status", "--db", db]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("trio-crawl: database error: "), err
    assert says in lines[0], err
    assert PASSWORD not in err


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(CHECKOUT)},
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "case"),
    [
        (["crawl", "--base-url", "http://127.0.0.1:9"], "refused password"),
        (["demo", "--products", "24"], "server down"),
        (["export", "--format", "jsonl"], "unknown scheme"),
        (["web", "--web", "0"], "no such database"),
    ],
    ids=["crawl", "demo", "export", "web"],
)
def test_every_command_says_what_is_wrong_with_its_db_in_one_line(
    pg_server: PostgresServer, tmp_path: Path, command: list[str], case: str
) -> None:
    db, says = bad_urls(pg_server)[case]

    result = run(*command, "--db", db, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0] and PASSWORD not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []  # no file made for a URL


def test_a_sqlite_url_is_the_file_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    all_done(tmp_path / "done.db")
    monkeypatch.chdir(tmp_path)

    assert main(["status", "--db", "sqlite:///done.db", "--json"]) == 0
    relative = json.loads(capsys.readouterr().out)
    assert main(["status", "--db", f"sqlite:///{tmp_path / 'done.db'}", "--json"]) == 0
    absolute = json.loads(capsys.readouterr().out)

    assert relative["products"]["done"] == absolute["products"]["done"] == 30


@pytest.mark.slow
def test_demo_into_postgresql_then_export_with_out_next_to_it(pg_url: str, tmp_path: Path) -> None:
    crawled = run("demo", "--products", "36", "--no-dashboard", "--db", pg_url, cwd=tmp_path)
    assert crawled.returncode == 0, crawled.stderr
    assert PASSWORD not in crawled.stdout + crawled.stderr

    exported = run("export", "--db", pg_url, "--format", "jsonl", "--out", "out.jsonl",
                   cwd=tmp_path)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    records: list[dict[str, Any]] = [
        json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()
    ]
    assert len(records) == 36
    assert len({record["url"] for record in records}) == 36
    assert isinstance(records[0]["card"], dict) and isinstance(records[0]["vid"], int)
    # The output file is refused only when it is an SQLite database; a URL has no file to hit.
    again = run("export", "--db", pg_url, "--format", "csv", "--out", "out.jsonl", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
