"""The `trio-crawl` command as a user runs it: a real subprocess."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.cli import base_url, listen_port

CLI = [sys.executable, "-m", "trio_crawl.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


@pytest.mark.slow
def test_demo_crawls_a_small_catalogue_then_export_writes_jsonl_and_csv(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    demo = run("demo", "--products", "120", "--db", str(db), "--no-dashboard", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "completed" in demo.stdout
    assert "products saved" in demo.stdout

    jsonl = run("export", "--db", str(db), "--format", "jsonl", cwd=tmp_path)
    assert jsonl.returncode == 0, jsonl.stderr
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == 120
    assert all(isinstance(r["vid"], int) and r["certificate_id"].startswith("CSA") for r in records)

    out = tmp_path / "products.csv"
    exported = run("export", "--db", str(db), "--format", "csv", "--out", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 120
    assert {row["url"] for row in rows} == {r["url"] for r in records}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[crawl]\nbatch_size = 0\n", "crawl.batch_size"),
        ("[crawl]\npage_range_limt = 5\n", "did you mean 'page_range_limit'"),
        ("[retry.saving]\nretry_on = ['database_bussy']\n", "retry.saving.retry_on"),
    ],
)
def test_crawl_with_a_bad_config_exits_2_with_one_line_naming_the_problem(
    tmp_path: Path, toml: str, named: str
) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text(toml)
    db = tmp_path / "x.db"
    result = run(
        "crawl", "--config", str(config), "--base-url", "http://127.0.0.1:9", "--db", str(db),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert named in lines[0]
    assert not db.exists()


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path) -> None:
    result = run("export", "--db", "x.db", "--format", "xml", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "xml" in result.stderr


def test_export_of_a_missing_database_exits_2(tmp_path: Path) -> None:
    result = run("export", "--db", str(tmp_path / "none.db"), "--format", "jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert "none.db" in result.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.mark.slow
async def test_ctrl_c_gives_a_clean_cancelled_summary_and_keeps_what_was_saved(
    tmp_path: Path,
) -> None:
    import signal
    import sqlite3

    import trio

    # Every list page is read before the first detail page: a bigger catalogue only makes the
    # wait for the first save longer. Four batches run at once, and the ones in flight at the
    # signal still save theirs (about 500 products): this one has plenty left after that.
    products = 2400
    db = tmp_path / "demo.db"
    process = await trio.lowlevel.open_process(
        [*CLI, "-v", "demo", "--products", str(products), "--db", str(db), "--no-dashboard"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    errors = b""
    try:
        with trio.fail_after(60):  # a guard against a hang, not a wait for work
            while _saved_so_far(errors) < 100:
                chunk = await process.stderr.receive_some(4096)
                assert chunk, "the crawl ended before it was interrupted"
                errors += chunk
            process.send_signal(signal.SIGINT)
            output = b""
            async with trio.open_nursery() as nursery:

                async def drain_errors(pipe: trio.abc.ReceiveStream) -> None:
                    nonlocal errors
                    while chunk := await pipe.receive_some(4096):
                        errors += chunk

                nursery.start_soon(drain_errors, process.stderr)
                while chunk := await process.stdout.receive_some(4096):
                    output += chunk
            await process.wait()
    finally:
        process.kill()
    stdout, stderr = output.decode(), errors.decode()
    assert process.returncode == 130, stderr
    assert "cancelled" in stdout
    assert "Traceback" not in stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM matter").fetchone()[0]
        status, products_saved = conn.execute(
            "SELECT status, products_saved FROM crawl_runs"
        ).fetchone()
    assert 100 <= rows < products
    assert (status, products_saved) == ("cancelled", rows)
    # The last line says what is left and how to continue (the demo serves the same catalogue).
    last = stdout.splitlines()[-1]
    assert last.startswith(f"left: {products - rows} products on "), last
    assert last.endswith(f"continue with: trio-crawl demo --products {products} --seed 7 --db {db}")


def _saved_so_far(log: bytes) -> int:
    counts = [
        int(line.rsplit(b"; ", 1)[1].split()[0])
        for line in log.splitlines()
        if line.endswith(b"saved so far")
    ]
    return max(counts, default=0)


def test_a_site_whose_cards_cannot_be_read_fails_and_says_which_url(tmp_path: Path) -> None:
    # Every list page has pagination but no product cards (the layout changed): the crawl must
    # end `failed` (exit 1) naming the page, never `completed` with 0 products.
    fixture = Path(__file__).parent / "sites" / "fixtures" / "list_no_cards.html"
    site = tmp_path / "site" / "csa-iot_products"
    site.mkdir(parents=True)
    (site / "index.html").write_bytes(fixture.read_bytes())
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path / "site",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().split(" port ")[1].split()[0]
        config = tmp_path / "crawl.toml"
        config.write_text("[retry.status_check]\nmax_attempts = 2\nbase_delay_ms = 10\n")
        db = tmp_path / "out.db"
        base = f"http://127.0.0.1:{port}"
        result = run(
            "crawl", "--base-url", base, "--db", str(db), "--config", str(config),
            "--no-dashboard", cwd=tmp_path,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 1, result.stdout + result.stderr
    reason = f"crawl failed: planning failed: layout not recognised: {base}/csa-iot_products/?"
    assert reason in result.stdout
    assert "p_firmware_ver= (pagination but no product cards)" in result.stdout


def _error_case_files(tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "a_dir").mkdir()
    with closing(sqlite3.connect(tmp_path / "other.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()


OPERATOR_ERRORS = [
    (("crawl", "--base-url", "http://127.0.0.1:9", "--db", "missing_dir/x.db"), "missing_dir"),
    (("crawl", "--base-url", "http://127.0.0.1:9", "--db", "a_dir"), "a_dir"),
    (("crawl", "--base-url", "http://127.0.0.1:9", "--db", "notes.txt"), "notes.txt"),
    (("crawl", "--base-url", "http://127.0.0.1:9", "--db", "other.db"), "other.db"),
    (("demo", "--products", "10", "--db", "missing_dir/x.db"), "missing_dir"),
    (("demo", "--products", "10", "--db", "a_dir"), "a_dir"),
    (("demo", "--products", "10", "--db", "notes.txt"), "notes.txt"),
    (("demo", "--products", "10", "--db", "other.db"), "other.db"),
    (("export", "--format", "jsonl", "--db", "missing_dir/x.db"), "missing_dir"),
    (("export", "--format", "jsonl", "--db", "a_dir"), "a_dir"),
    (("export", "--format", "jsonl", "--db", "notes.txt"), "notes.txt"),
    (("export", "--format", "csv", "--db", "other.db"), "other.db"),
    (("serve-demo", "--port", "-1"), "-1"),
    (("serve-demo", "--port", "99999"), "99999"),
    (("serve-demo", "--port", "IN_USE"), "IN_USE"),
    (("demo", "--products", "-5", "--db", "x.db"), "-5"),
    (("demo", "--products", "0", "--db", "x.db"), "'0'"),
    (("crawl", "--base-url", "http://127.0.0.1:99999", "--db", "x.db"), "127.0.0.1:99999"),
    (("crawl", "--base-url", "notaurl", "--db", "x.db"), "notaurl"),
    (("crawl", "--base-url", "ftp://x", "--db", "x.db"), "ftp://x"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "named"), OPERATOR_ERRORS, ids=[" ".join(a) for a, _ in OPERATOR_ERRORS]
)
def test_every_operator_error_is_one_line_naming_it_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    import socket

    _error_case_files(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = tuple(port if a == "IN_USE" else a for a in args)
        named = port if named == "IN_USE" else named
        extra = ("--no-dashboard",) if args[0] in ("crawl", "demo") else ()
        result = run(*args, *extra, cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), result.stderr
    assert named in lines[0]
    assert not (tmp_path / "x.db").exists()


@pytest.mark.slow
def test_export_into_a_reader_that_leaves_early_ends_quietly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    demo = run(
        "demo",
        "--products",
        "240",
        "--faults",
        "none",
        "--db",
        str(db),
        "--no-dashboard",
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr
    export = subprocess.Popen(
        [*CLI, "export", "--format", "jsonl", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        bufsize=0,
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.readline()  # read one line, then leave, as `| head -1` does
    export.stdout.close()
    stderr = export.stderr.read().decode()
    export.wait(timeout=60)
    assert json.loads(first)["vid"]
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert export.returncode in (0, 141), stderr


@settings(max_examples=60, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "ftp", "file", "ws", ""]),
    host=st.sampled_from(["", "127.0.0.1", "localhost", "example.com", "[::1]"]),
    port=st.none() | st.integers(min_value=-5, max_value=70000),
    path=st.sampled_from(["", "/", "/catalogue", "/a?b=c"]),
)
def test_base_url_is_accepted_iff_http_with_a_host_and_a_valid_port(
    scheme: str, host: str, port: int | None, path: str
) -> None:
    import argparse

    url = f"{scheme}://{host}" + ("" if port is None else f":{port}") + path
    expected = scheme in ("http", "https") and host != "" and (port is None or 1 <= port <= 65535)
    try:
        assert base_url(url) == url
        accepted = True
    except argparse.ArgumentTypeError as exc:
        accepted = False
        assert url in str(exc)
    assert accepted == expected, url


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-100, max_value=100_000) | st.sampled_from([0, 65535, 65536, -1]))
def test_listen_port_is_accepted_iff_0_to_65535(port: int) -> None:
    import argparse

    try:
        accepted = listen_port(str(port)) == port
    except argparse.ArgumentTypeError as exc:
        accepted = False
        assert str(port) in str(exc)
    assert accepted == (0 <= port <= 65535)


def test_version_prints_the_distribution_version_and_exits_0(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"trio-crawl {version('trio-crawl')}"


def test_no_arguments_prints_the_help_to_stdout_and_exits_0(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: trio-crawl")
    assert "demo" in result.stdout and "--verbose" in result.stdout


@pytest.mark.slow
def test_no_dashboard_prints_batch_lines_only_when_verbose(tmp_path: Path) -> None:
    demo = ("demo", "--products", "120", "--no-dashboard", "--faults", "none")
    quiet = run(*demo, "--db", str(tmp_path / "a.db"), cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "products saved" in quiet.stdout
    assert not re.search(r"^batch \d", quiet.stdout + quiet.stderr, re.MULTILINE)
    verbose = run("-v", *demo, "--db", str(tmp_path / "b.db"), cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert "batch 1: Success, 120 saved, 0 failed; 120 saved so far" in verbose.stderr
    after = run(*demo, "-v", "--db", str(tmp_path / "c.db"), cwd=tmp_path)
    assert "saved so far" in after.stderr


@pytest.mark.slow
@pytest.mark.parametrize("config_file", [False, True])
def test_log_file_gets_one_line_per_event_each_naming_the_session(
    tmp_path: Path, config_file: bool
) -> None:
    # (A config file is watched for live reload: starting the watcher once let the session
    # start before the log's subscriber came, and the log lost its first line and the id.)
    log = tmp_path / "crawl.log"
    config = tmp_path / "crawl.toml"
    config.write_text('[crawl]\nstrategy = "full"\n[rate_limit]\nrequests_per_second = 0\n')
    result = run(
        "demo", "--products", "120", "--no-dashboard", "--faults", "none",
        "--db", str(tmp_path / "x.db"), "--log-file", str(log),
        *(["--config", str(config)] if config_file else []), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert " SessionStarted seq=1 " in lines[0], lines[:3]
    session_id = lines[0].rsplit("session_id=", 1)[1]
    assert len(session_id) >= 8
    assert all(f" session={session_id} " in line for line in lines), lines
    assert all(line[:4].isdigit() and (" INFO " in line or " DEBUG " in line) for line in lines)
    assert any("PlanReady" in line for line in lines)
    assert "SessionCompleted" in lines[-1] or any("SessionCompleted" in x for x in lines)
    assert not re.search(
        r"^batch \d", result.stderr, re.MULTILINE
    )  # the file does not make stderr verbose


async def test_export_never_writes_over_a_database_whatever_its_name(tmp_path: Path) -> None:
    import hashlib
    import os

    from tests.stores.test_export import STORED, stored

    db = await stored(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    second = await stored(other)
    os.link(db, tmp_path / "linked.db")
    os.symlink(db, tmp_path / "symlinked.db")
    (tmp_path / "sub").mkdir()
    before = {path: hashlib.sha256(path.read_bytes()).digest() for path in (db, second)}
    for out in (
        str(db),
        f"{tmp_path}/sub/../{db.name}",
        str(tmp_path / "linked.db"),
        str(tmp_path / "symlinked.db"),
        str(second),
    ):
        result = run("export", "--db", str(db), "--format", "csv", "--out", out, cwd=tmp_path)
        assert result.returncode == 2, (out, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert "--out" in line and "give another output file" in line, line
        assert {p: hashlib.sha256(p.read_bytes()).digest() for p in before} == before, out
    # The file is still a database every command can read.
    jsonl = run("export", "--db", str(db), "--format", "jsonl", cwd=tmp_path)
    assert jsonl.returncode == 0, jsonl.stderr
    count = len(jsonl.stdout.splitlines())
    assert count >= len(STORED)
    # An existing file that is not a database is overwritten as before.
    plain = tmp_path / "old.csv"
    plain.write_text("stale\n")
    result = run("export", "--db", str(db), "--format", "csv", "--out", str(plain), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with plain.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == count


def test_a_mistyped_command_or_option_gets_the_close_matches_and_abbreviations_are_refused(
    tmp_path: Path,
) -> None:
    typo = run("crawll", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean crawl?" in typo.stderr
    option = run("status", "--db", "x.db", "--jsn", cwd=tmp_path)
    assert option.returncode == 2 and "did you mean --json" in option.stderr
    # An abbreviation is not the option it starts: --base-url is still missing.
    short = run("crawl", "--base-ur", "http://127.0.0.1:9", "--db", "x.db", cwd=tmp_path)
    assert short.returncode == 2
    assert "required: --base-url" in short.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_config_naming_no_stage_is_refused_naming_the_file_and_leaves_no_database(
    tmp_path: Path,
) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text("[retry.product_detail]\nmax_attempts = 2\n")
    result = run("crawl", "--base-url", "http://127.0.0.1:9", "--db", "x.db", "--config",
                 str(config), "--no-dashboard", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "retry.product_detail: unknown key" in lines[0]
    assert "did you mean 'product_details'" in lines[0] and f"file {config}" in lines[0]
    assert not (tmp_path / "x.db").exists()


def test_the_stage_names_a_config_is_checked_against_are_the_crawls() -> None:
    from trio_crawl.crawling.stages import STAGE_NAMES, CatalogueCrawl
    from trio_crawl.sites import MatterCatalogue

    crawl = CatalogueCrawl(MatterCatalogue("http://x.test"), None, None)  # type: ignore[arg-type]
    assert tuple(stage.name for stage in crawl.stages()) == STAGE_NAMES
