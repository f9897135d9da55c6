"""Items that fail for good: a rerun whose only work is dead links is honest (`partial`, exit
0, the failures listed with their reasons), and a page a site calls broken for good is fetched
once, not once per attempt of the policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import trio
import trio.testing

from trio_crawl import crawl
from trio_crawl.demo import DemoCatalogue
from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ProductDetail
from trio_crawl.sites.response import Response
from trio_crawl.stores import SqliteStore, read_status
from trio_crawl.ui.status_text import status_lines

from .conftest import crawl_config, db_path, demo_server

CLI = [sys.executable, "-m", "trio_crawl.cli"]
CONTINUE = {"strategy": "continue_from_db", "page_range_limit": 1000}


async def test_a_rerun_left_only_dead_links_is_partial_lists_them_and_completes_once_fixed(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=120, seed=4)
    dead = [7, 60, 113]
    catalogue.break_links(dead)
    path = db_path(tmp_path)
    config = crawl_config(crawl=CONTINUE)
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        first = await crawl(config, site=site, store=store)
        assert (first.status, first.products_saved, first.products_failed) == ("partial", 117, 3)
        details = server.stats.details
        second = await crawl(config, site=site, store=store)
        rerun_details = server.stats.details - details
        status = read_status(path)
        catalogue.break_links(dead, broken=False)
        third = await crawl(config, site=site, store=store)
    # Only the dead links were left: tried again (404 is not retried within a run), and the
    # run is partial, not failed.
    assert second.status == "partial", second.reason
    assert (second.products_saved, second.products_failed, rerun_details) == (0, 3, 3)
    assert {item.kind for item in second.failed_items} == {ErrorKind.client_error}
    assert len(status.failures) == status.failures_count == 3
    assert {f.url for f in status.failures} == {item.url for item in second.failed_items}
    assert all("404" in f.last_error for f in status.failures)
    text = "\n".join(status_lines(status))
    assert "failures:" in text and "404" in text
    assert third.status == "completed" and third.products_saved == 3


def test_the_cli_exits_0_for_a_rerun_left_only_dead_links(tmp_path: Path) -> None:
    """The real command, twice, against `serve-demo` with a dead link (``--change dead:5``)."""
    server = subprocess.Popen(
        [*CLI, "serve-demo", "--port", "0", "--products", "24", "--change", "dead:5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().split(" at ")[1].split()[0]
        db = str(tmp_path / "dead.db")
        crawls = [
            subprocess.run(
                [*CLI, "crawl", "--base-url", base, "--db", db, "--no-dashboard"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            for _ in range(2)
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert [c.returncode for c in crawls] == [0, 0], crawls[1].stdout + crawls[1].stderr
    shown = subprocess.run(
        [*CLI, "status", "--db", db, "--json", "--failures"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    status = json.loads(shown.stdout)
    assert status["failures"]["count"] == 1
    assert "404" in status["failures"]["items"][0]["last_error"]


class BrokenForGood(MatterCatalogue):
    """A site that knows some detail pages are broken for good (say, a placeholder page)."""

    broken: frozenset[str] = frozenset()

    def parse_detail(self, response: Response | bytes | str, url: str = "") -> ProductDetail:
        where = response.url if isinstance(response, Response) else url
        if any(slug in where for slug in self.broken):
            raise StageError(ErrorKind.parse_error, "placeholder page", permanent=True)
        return super().parse_detail(response, url)


async def test_a_page_the_site_calls_broken_for_good_is_fetched_once(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=36, seed=2)
    broken = catalogue.page(2)[3].slug
    requested: list[str] = []
    async with demo_server(catalogue) as server, SqliteStore.open(db_path(tmp_path)) as store:
        server.on_request = requested.append
        site = BrokenForGood(server.base_url)
        site.broken = frozenset({broken})
        summary = await crawl(crawl_config(), site=site, store=store)
    # product_details retries parse_error (five attempts): not one the site calls permanent.
    assert crawl_config().retry.product_details.max_attempts == 5
    assert summary.status == "partial"
    assert [(i.kind, i.attempts) for i in summary.failed_items] == [(ErrorKind.parse_error, 1)]
    assert sum(broken in path for path in requested) == 1
    assert summary.products_saved == 35


async def test_a_planning_failure_over_http_names_the_url(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    async with (
        demo_server(DemoCatalogue(products=12)) as server,
        SqliteStore.open(db_path(tmp_path)) as store,
    ):
        site = MatterCatalogue(server.base_url + "/elsewhere")
        summary = await crawl(crawl_config(), site=site, store=store)
    assert summary.status == "failed"
    assert f"planning failed: HTTP 404 at {site.list_url(1)}" in summary.reason


async def test_a_second_catalogue_into_one_database_is_refused_naming_the_first(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    path = db_path(tmp_path)
    async with SqliteStore.open(path) as store:
        async with demo_server(DemoCatalogue(products=30, seed=1)) as first_server:
            first = await crawl(crawl_config(), site=MatterCatalogue(first_server.base_url),
                                store=store)  # fmt: skip
        async with demo_server(DemoCatalogue(products=30, seed=2)) as other:
            second = await crawl(crawl_config(), site=MatterCatalogue(other.base_url), store=store)
            requests = other.stats.requests
        rows = await store.fetch_products()
    assert first.status == "completed"
    assert second.status == "failed"
    assert f"the database holds the catalogue at {first_server.base_url}" in second.reason
    assert "one catalogue per file" in second.reason and requests == 0
    assert len(rows) == 30 and not any(row["delisted_at"] for row in rows)


def test_the_demo_run_again_on_its_database_continues_the_same_catalogue(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    demo = [*CLI, "demo", "--products", "40", "--faults", "none", "--db", db, "--no-dashboard"]
    runs = [
        subprocess.run(demo, capture_output=True, text=True, timeout=120, check=False)
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[1].stdout + runs[1].stderr
    # The same port, so the same catalogue: nothing fetched again (4 pages read, + 4 more).
    first_url = runs[0].stdout.split(" pages at ")[1].split()[0]
    assert first_url in runs[1].stdout
    saw = int(runs[1].stdout.split("server saw ")[1].split()[0])
    assert saw <= 4 + 4 + 1  # the list pages, the checks, robots.txt


async def test_cancelled_items_are_never_counted_or_shown_as_failed(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    import sqlite3

    from rich.console import Console

    from trio_crawl import open_session
    from trio_crawl.ui.dashboard import summary_table

    path = db_path(tmp_path)
    config = crawl_config(crawl={**CONTINUE, "batch_size": 2, "parallel_batches": 2})
    async with (
        demo_server(DemoCatalogue(products=240, seed=5)) as server,
        SqliteStore.open(path) as store,
    ):
        site = MatterCatalogue(server.base_url)
        async with open_session(config, site=site, store=store) as session:
            details = 0

            def cancel_mid_fetch(path: str) -> None:
                nonlocal details
                details += "/csa_product/" in path
                if details == 30:  # products in flight: the stop cuts them short
                    session.cancel("enough")

            server.on_request = cancel_mid_fetch
            stopped = await session.wait()
    cancelled = [i for i in stopped.failed_items if i.kind is ErrorKind.cancelled]
    in_stages = [i for i in cancelled if i.stage != "list_pages"]
    assert stopped.status == "cancelled" and in_stages  # products cut short in flight
    assert stopped.products_failed == 0  # nothing failed: it was all the stop
    assert stopped.products_cancelled == len(in_stages)
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT products_failed, products_cancelled FROM crawl_runs").fetchone()
    db.close()
    assert row == (0, len(in_stages))
    console = Console(width=100, record=True)
    console.print(summary_table(stopped))
    shown = console.export_text()
    assert "products cancelled" in shown and "failed product_details: cancelled" not in shown
    assert (
        "cancelled product_details" in shown
        or "cancelled validation" in shown
        or ("cancelled saving" in shown)
    )


def test_the_status_continue_command_keeps_site_and_config_and_really_continues(
    tmp_path: Path,
) -> None:
    server = subprocess.Popen(
        [*CLI, "serve-demo", "--port", "0", "--products", "12", "--books", "47"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    config = tmp_path / "c.toml"
    config.write_text('[crawl]\nstrategy = "continue_from_db"\npage_range_limit = 2\n')
    db = str(tmp_path / "books.db")

    def cli(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *words], capture_output=True, text=True, timeout=120,
                              check=False, cwd=tmp_path)  # fmt: skip

    try:
        assert server.stdout is not None
        base = server.stdout.readline().split(" at ")[1].split()[0]
        first = cli("crawl", "--site", "bookshop", "--base-url", base, "--db", db,
                    "--config", str(config), "--no-dashboard")  # fmt: skip
        status = json.loads(cli("status", "--db", db, "--json").stdout)
        command = status["continue_command"]
        words = command.split()
        assert words[:2] == ["trio-crawl", "crawl"]
        assert "--site bookshop" in command and f"--config {config}" in command
        again = cli(*words[1:], "--no-dashboard")
        after = json.loads(cli("status", "--db", db, "--json").stdout)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert first.returncode == 0 and again.returncode == 0, again.stdout + again.stderr
    assert "planning failed" not in again.stdout
    # The summary says what the listing brought (and what the limit left).
    assert "catalogue: 47 listed, 27 new to the store, 0 delisted" in again.stdout
    assert after["products"]["done"] == 40  # 2 more pages of 10 (47 books, 5 pages)
