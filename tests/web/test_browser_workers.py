"""The whole crawl's page in a real headless Chromium (Playwright): `trio-crawl web --redis`
watching two real `trio-crawl worker` processes share one crawl through a real redis-server
and PostgreSQL; the page's Pause holds both workers and Resume lets them finish."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from trio_crawl.demo import FaultConfig

from ..distributed.steering_runs import Crawl as Commands
from ..distributed.steering_runs import write_config
from ..e2e.test_interrupted_runs import child_env
from .conftest import CHROMIUM_ARGS, Crawl, DemoThread, chromium_or_skip

pytestmark = pytest.mark.slow

PRODUCTS = 180  # 15 list pages, one a batch: 6 s at the rate the test sets


def test_the_page_shows_every_worker_and_its_pause_holds_them_all(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    chromium = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    redis_url, prefix = redis_target
    demo = DemoThread(PRODUCTS, FaultConfig())
    commands = Commands(
        demo.server.base_url, pg_server.new_database(), redis_url, prefix,
        write_config(tmp_path, rate=30),
    )  # fmt: skip
    web = Crawl("web", "--db", commands.db, "--redis", redis_url, "--queue", prefix, "--web", "0")
    logs = [tmp_path / f"w{n}.log" for n in (1, 2)]
    workers: list[subprocess.Popen[bytes]] = []
    shot = tmp_path / "page-workers.png"
    try:
        planned = subprocess.run(commands.command("plan"), capture_output=True, env=child_env())
        assert planned.returncode == 0, planned.stdout.decode()
        workers = [
            subprocess.Popen(
                commands.command("worker", "--name", f"w{n}"),
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                env=child_env(),
            )
            for n, log in zip((1, 2), logs, strict=True)
        ]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(web.url)
            expect(page.locator("#crawl")).to_be_visible()
            # Both workers, each with its own row, drawn from their events.
            expect(page.locator('#crawl-table tr[data-worker="w1"]')).to_be_visible()
            expect(page.locator('#crawl-table tr[data-worker="w2"]')).to_be_visible()
            page.wait_for_function("parseInt(document.getElementById('crawl-saved').innerText) > 0")

            page.click("#crawl-pause")
            expect(page.locator("#status")).to_have_text(re.compile(r": paused$"))
            for log in logs:
                deadline = time.monotonic() + 30
                while "crawl paused" not in log.read_text():  # the worker process said so
                    assert time.monotonic() < deadline, log.read_text()[-2000:]
                    time.sleep(0.05)
            time.sleep(1.0)  # items in flight finish
            before = demo.requests
            time.sleep(1.5)  # unpaused, 45 requests at the test's rate
            assert demo.requests == before, "a request started while paused"
            assert all(worker.poll() is None for worker in workers)

            page.click("#crawl-resume")
            expect(page.locator("#status")).to_have_text(re.compile(r": running$"))
            codes = [worker.wait(timeout=120) for worker in workers]
            assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
            expect(page.locator("#crawl-saved")).to_have_text(str(PRODUCTS))
            expect(page.locator("#status")).to_have_text(re.compile(r": finished$"))
            shown = [
                int(page.locator(f'#crawl-table tr[data-worker="w{n}"] td').nth(3).inner_text())
                for n in (1, 2)
            ]
            assert sum(shown) == PRODUCTS
            expect(page.locator("#crawl-lines")).to_contain_text(
                f"{PRODUCTS} of {PRODUCTS} stored", timeout=30_000
            )
            page.screenshot(path=shot, full_page=True)
            browser.close()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
        if web.process.poll() is None:
            web.process.send_signal(signal.SIGINT)
            try:
                web.process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                web.kill()
        demo.close()
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
