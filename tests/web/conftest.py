"""The web page's tests: a real crawl, a real server (hypercorn on trio), real HTTP on
127.0.0.1, and for the page itself a real headless Chromium driven by Playwright."""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, serve_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

FAILING_CONFIG = """\
# The demo's settings, except that a product detail is tried once: each fault the demo
# server injects on one becomes a failed item (with its URL and reason).
[crawl]
strategy = "full"
request_timeout_secs = 10

[rate_limit]
requests_per_second = 0

[retry.list_pages]
retry_on = ["network_timeout", "network_error", "server_error", "rate_limited", "parse_error"]
base_delay_ms = 200
jitter_ms = 50

[retry.product_details]
max_attempts = 1
"""


def chromium_or_skip() -> str:
    """The OS's Chromium, or a loud skip saying how to install it (the Makefile does)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"BROWSER TEST NOT RUN: no Chromium at {CHROMIUM}; install it with"
            " `apt-get install -y chromium` (make test does this on a fresh machine)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(
            "BROWSER TEST NOT RUN: the playwright package is missing (pip install -e .[dev])"
        )
    return CHROMIUM


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "failing.toml"
    path.write_text(FAILING_CONFIG)
    return path


def trio_crawl_command(*args: str) -> list[str]:
    """The installed command, run by this interpreter (the venv's)."""
    script = shutil.which("trio-crawl", path=str(Path(sys.executable).parent))
    assert script is not None, "trio-crawl is not installed next to this Python"
    return [script, *args]


class Crawl:
    """A `trio-crawl` process with `--web 0`: its live page's URL, read from its output."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            trio_crawl_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"(?:live|database) page: (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            self.process.wait(10)
            raise AssertionError(f"no page URL in the output:\n{''.join(self.lines)}")
        base, _, token = self.url.partition("/?token=")
        self.base: str = base
        self.token: str = token

    def finish(self, timeout: float = 120) -> str:
        """Wait for the process to end; all it printed."""
        out, _ = self.process.communicate(timeout=timeout)
        self.lines.append(out)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)


def summary_rows(output: str) -> dict[str, str]:
    """The CLI's final summary table, as {row name: value}."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|]", line) if cell.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


class DemoThread:
    """The demo catalogue served from a thread of the test (a trio loop of its own), so that
    the test can count the requests it answers while a crawl process runs."""

    def __init__(self, products: int, faults: FaultConfig) -> None:
        self._started: queue.Queue[tuple[DemoServer, trio.lowlevel.TrioToken]] = queue.Queue()
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(
            target=trio.run, args=(self._serve, products, faults), daemon=True
        )
        self._thread.start()
        self.server, self._token = self._started.get(timeout=30)

    async def _serve(self, products: int, faults: FaultConfig) -> None:
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=products), faults=faults)
            )
            self._started.put((server, trio.lowlevel.current_trio_token()))
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    @property
    def requests(self) -> int:
        return int(self.server.stats.requests)

    def close(self) -> None:
        assert self._stop is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)


@pytest.fixture
def demo_thread() -> Iterator[DemoThread]:
    demo = DemoThread(3000, FaultConfig.low(seed=3))
    try:
        yield demo
    finally:
        demo.close()


def read_json(url: str, **headers: str) -> Any:
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
