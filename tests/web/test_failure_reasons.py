"""Why items failed, where an operator looks: the log file (one WARNING line per given-up
item) and `trio-crawl web --db` (every failed item with its reason, from the status read
model), after a real demo crawl that ends partial."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import (
    CHROMIUM_ARGS,
    Crawl,
    chromium_or_skip,
    read_json,
    summary_rows,
    trio_crawl_command,
    write_config,
)


@pytest.fixture(scope="session")  # (the suite runs long tests first, apart)
def partial_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(database, log file, what the command printed) of a demo crawl with failures."""
    where = tmp_path_factory.mktemp("partial")
    db, log = where / "crawl.db", where / "crawl.log"
    done = subprocess.run(
        trio_crawl_command(
            "demo",
            "--products",
            "600",
            "--db",
            str(db),
            "--config",
            str(write_config(where)),
            "--no-dashboard",
            "--log-file",
            str(log),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary_rows(done.stdout)["status"] == "partial", done.stdout
    return db, log, done.stdout


def ledger_failures(db: Path) -> list[tuple[str, str, int, str]]:
    with closing(sqlite3.connect(db)) as connection:
        rows = connection.execute(
            "SELECT url, error_kind, attempts, last_error FROM crawl_ledger"
            " WHERE state IN ('failed', 'cancelled') ORDER BY url"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_the_log_file_has_a_warning_line_for_each_failed_item(
    partial_crawl: tuple[Path, Path, str],
) -> None:
    db, log, output = partial_crawl
    failed = ledger_failures(db)
    assert failed, "the crawl was meant to give up on some items"
    lines = [line for line in log.read_text().splitlines() if " ItemFailed " in line]
    assert all(" WARNING " in line for line in lines)
    logged: Counter[tuple[str, str, int, str]] = Counter()
    for line in lines:
        fields = re.search(r" url=(\S+) kind=(\S+) attempts=(\d+) message=(.*)$", line)
        assert fields, line
        logged[(fields[1], fields[2], int(fields[3]), fields[4])] += 1
    assert logged == Counter(
        (url, kind, attempts, " ".join(why.split())) for url, kind, attempts, why in failed
    )
    table = summary_rows(output)
    assert len(lines) == sum(int(n) for row, n in table.items() if row.startswith("failed "))


def test_the_database_page_lists_every_failed_item_with_its_reason(
    partial_crawl: tuple[Path, Path, str],
) -> None:
    db, _, _ = partial_crawl
    failed = ledger_failures(db)
    page = Crawl("web", "--db", str(db), "--web", "0")
    try:
        state = read_json(f"{page.base}/api/state?token={page.token}")
        assert state["mode"] == "database"
        shown = sorted(
            (item["url"], item["kind"], item["attempts"], item["last_error"])
            for item in state["database"]["failed_items"]
        )
        assert shown == sorted(failed)
        assert all(reason for *_, reason in shown)
        runs = state["database"]["runs"]
        assert runs[0]["status"] == "partial"
    finally:
        page.process.send_signal(signal.SIGINT)
        assert page.process.wait(10) == 0
        page.kill()


def test_the_database_page_in_a_browser_shows_each_reason(
    partial_crawl: tuple[Path, Path, str], tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    db, _, _ = partial_crawl
    failed = ledger_failures(db)
    page_process = Crawl("web", "--db", str(db), "--web", "0")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(page_process.url)
            rows = page.locator("#db-failed tr.failed-item")
            expect(rows).to_have_count(len(failed))
            seen = sorted(
                (cells[0], cells[6])
                for cells in (row.locator("td").all_inner_texts() for row in rows.all())
            )
            assert seen == sorted((url, reason) for url, _, _, reason in failed)
            expect(page.locator("#db-runs tbody tr").first).to_contain_text("partial")
            shot = tmp_path / "database-page.png"
            page.screenshot(path=shot, full_page=True)
            print(f"screenshot (database page): {shot}")
            browser.close()
    finally:
        page_process.kill()
