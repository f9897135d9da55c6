"""The page in a real headless Chromium (Playwright, the OS's browser; nothing downloaded),
watching and steering a real crawl process that serves it with `--web 0`."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

from .conftest import (
    CHROMIUM_ARGS,
    Crawl,
    DemoThread,
    chromium_or_skip,
    summary_rows,
    write_config,
)

SUMMARY_FIELDS = {
    "status": "status",
    "pages_ok": "pages ok",
    "pages_failed": "pages failed",
    "products_saved": "products saved",
    "products_failed": "products failed",
    "retries": "retries",
}


def test_the_page_follows_a_faulty_crawl_pauses_it_resumes_it_and_ends_with_its_summary(
    tmp_path: Path, demo_thread: DemoThread
) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    crawl = Crawl(
        "crawl",
        "--base-url",
        demo_thread.server.base_url,
        "--db",
        str(tmp_path / "crawl.db"),
        "--config",
        str(write_config(tmp_path)),
        "--no-dashboard",
        "--web",
        "0",
    )
    shots = {name: tmp_path / f"page-{name}.png" for name in ("start", "middle", "end")}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(crawl.url)

            def saved() -> int:
                return int(page.locator("#products").inner_text().split("/")[0])

            # Progress advances (drawn from the event stream).
            page.wait_for_function("parseInt(document.getElementById('products').innerText) > 0")
            page.screenshot(path=shots["start"], full_page=True)
            first = saved()
            page.wait_for_function(
                f"parseInt(document.getElementById('products').innerText) > {first}"
            )
            # A retry scheduled, with its delay, and a failure with its URL.
            retry = page.locator("#retry-list li").first
            expect(retry).to_contain_text(
                re.compile(r"attempt \d+ in [\d.]+s after "), timeout=60_000
            )
            failure = page.locator("#failure-list tr.failure").first
            expect(failure).to_be_visible(timeout=60_000)
            assert failure.locator("td.url").inner_text().startswith(demo_thread.server.base_url)
            assert failure.locator("td").nth(1).inner_text() in ("list_pages", "product_details")

            # Pause: the page says paused once the session's event says so ...
            page.click("#pause")
            expect(page.locator("#paused")).to_be_visible(timeout=30_000)
            expect(page.locator("#resume")).to_be_enabled()
            # ... and the catalogue server sees no new request (items in flight finish first).
            time.sleep(0.5)
            before = demo_thread.requests
            time.sleep(2.0)
            assert demo_thread.requests == before, "a request started while paused"
            page.screenshot(path=shots["middle"], full_page=True)
            paused_at = saved()

            page.click("#resume")
            expect(page.locator("#paused")).to_be_hidden(timeout=30_000)
            page.wait_for_function(
                f"parseInt(document.getElementById('products').innerText) > {paused_at}"
            )
            assert demo_thread.requests > before

            # The end: the final summary on the page is the session's (the CLI prints it too).
            expect(page.locator("#status")).to_have_text(
                re.compile("^(completed|partial)$"), timeout=120_000
            )
            expect(page.locator("#summary")).to_be_visible()
            output = crawl.finish()
            table = summary_rows(output)
            for field, row in SUMMARY_FIELDS.items():
                shown = page.locator(f'#summary dd[data-field="{field}"]').inner_text()
                assert shown == table[row], (field, shown, table[row])
            elapsed = page.locator('#summary dd[data-field="elapsed"]').inner_text()
            assert abs(float(elapsed.rstrip("s")) - float(table["elapsed"].rstrip("s"))) < 0.011
            # The CLI's table counts failed items by stage and kind, one row each.
            failed = sum(int(count) for row, count in table.items() if row.startswith("failed "))
            assert failed > 0
            assert page.locator('#summary dd[data-field="failed_items"]').inner_text() == str(
                failed
            )
            assert page.locator("#failures").inner_text() == str(failed)
            expect(page.locator("#failure-list tr.failure")).to_have_count(min(failed, 200))
            page.screenshot(path=shots["end"], full_page=True)
            browser.close()
    finally:
        crawl.kill()
    for name, path in shots.items():
        assert path.stat().st_size > 10_000
        print(f"screenshot ({name}): {path}")


STOPPABLE_CONFIG = """\
# Twenty requests a second and one list page a batch, one batch at a time: the first
# products are saved within seconds, and the crawl is still running when Stop now is clicked.
[crawl]
strategy = "full"
request_timeout_secs = 10
batch_size = 1
parallel_batches = 1

[rate_limit]
requests_per_second = 20
"""


@pytest.mark.slow
def test_stop_now_clicked_in_the_page_ends_the_crawl_cancelled_keeping_what_it_saved(
    tmp_path: Path,
) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    config = tmp_path / "stoppable.toml"
    config.write_text(STOPPABLE_CONFIG)
    db = tmp_path / "crawl.db"
    crawl = Crawl(
        "demo",
        "--products",
        "300",
        "--faults",
        "none",
        "--no-dashboard",
        "--db",
        str(db),
        "--config",
        str(config),
        "--web",
        "0",
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(20_000)
            page.goto(crawl.url)
            page.wait_for_function("parseInt(document.getElementById('products').innerText) > 0")
            page.click("#stop")
            # What the session's events say, not what the button assumed.
            expect(page.locator("#status")).to_have_text("cancelled")
            expect(page.locator("#stop-box")).to_contain_text(
                "Stop requested (hard): stopped from the web page"
            )
            expect(page.locator("#summary")).to_be_visible()
            shown = page.locator('#summary dd[data-field="products_saved"]').inner_text()
            expect(page.locator("#stop")).to_be_disabled()
            browser.close()
        output = crawl.finish(timeout=30)
    finally:
        crawl.kill()
    table = summary_rows(output)
    assert table["status"] == "cancelled", output
    with sqlite3.connect(db) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM matter").fetchone()[0])
    assert 0 < rows < 300
    assert shown == table["products saved"] == str(rows), (shown, table, rows)
