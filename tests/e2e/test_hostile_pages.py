"""A hostile page, nested tens of thousands of elements deep (parse time grows with the square
of the depth), served by a test server as a list page and as a detail page, cannot hold a real
`trio-crawl crawl`: refused before parsing beyond ``[crawl] max_page_nesting``, or, with that
bound lifted, stopped in the parse process after ``[crawl] parse_timeout_secs``. Either way the
page fails as ``parse_error: page too complex``, the rest of the catalogue is stored, the crawl
ends in seconds, and no process of it outlives it."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import subprocess
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
import trio

from trio_crawl.demo import DemoCatalogue
from trio_crawl.demo.markup import DETAIL_PATH, LIST_PATH, render_detail_page, render_list_page

from ..crawling.http_server import Reply, Request, serve_routes
from .test_interrupted_runs import CLI, child_env, stop

LEVELS = 60_000  # about 8 s for one parse on this project's machines
# Every retry backs off by 1 ms: the crawl runs on the real clock, and the hostile list page is
# read again under the list and status-check policies (seconds of backoff that check nothing).
CONFIG = """\
[crawl]
strategy = "full"
max_page_nesting = {nesting}
parse_timeout_secs = {timeout}
[rate_limit]
requests_per_second = 0
[retry.product_details]
base_delay_ms = 1
jitter_ms = 0
[retry.list_pages]
base_delay_ms = 1
jitter_ms = 0
[retry.status_check]
base_delay_ms = 1
jitter_ms = 0
"""


def hostile(html: str) -> bytes:
    deep = "<div>" * LEVELS + "deep" + "</div>" * LEVELS
    return html.replace("</body>", deep + "</body>").encode()


def routes(catalogue: DemoCatalogue, base: list[str], deep_slug: str) -> dict[str, object]:
    """The catalogue's pages (a request past the last page shows the last one, as the live site
    does), with list page 2 and one detail page made hostile."""
    last = catalogue.last_page

    async def list_page(number: int, request: Request) -> Reply:
        shown = min(number, last)
        html = render_list_page(base[0], catalogue.page(shown), shown, last)
        return Reply(body=hostile(html) if shown == 2 else html.encode())

    async def detail(slug: str, request: Request) -> Reply:
        html = render_detail_page(base[0], catalogue.product(slug))
        return Reply(body=hostile(html) if slug == deep_slug else html.encode())

    table: dict[str, object] = {LIST_PATH: functools.partial(list_page, 1)}
    for number in range(2, last + 4):
        table[f"{LIST_PATH}page/{number}/"] = functools.partial(list_page, number)
    for product in catalogue:
        table[f"{DETAIL_PATH}{product.slug}/"] = functools.partial(detail, product.slug)
    return table


def processes_marked(mark: str) -> list[int]:
    """Live processes whose environment carries `mark` (the crawl and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if mark.encode() in environ and state not in ("Z", "X"):
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    ("nesting", "parse_secs", "why"),
    [
        (2000, 10, r"its elements nest \d+ deep, more than 2000"),
        (1_000_000, 1, r"parsing it took more than 1 s in a parse process"),
    ],
    ids=["refused-before-parsing", "stopped-in-the-parse-process"],
)
async def test_a_deeply_nested_page_fails_alone_and_holds_nothing(
    tmp_path: Path, nesting: int, parse_secs: int, why: str
) -> None:
    catalogue = DemoCatalogue(products=36, seed=9)  # 3 list pages
    deep_slug = catalogue.page(1)[3].slug
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG.format(nesting=nesting, timeout=parse_secs))
    db = tmp_path / "crawl.db"
    mark = f"TRIO_CRAWL_TEST_MARK={uuid.uuid4().hex}"
    base: list[str] = []
    async with trio.open_nursery() as nursery:
        base.append(await nursery.start(serve_routes, routes(catalogue, base, deep_slug)))
        started = time.monotonic()
        with trio.fail_after(60):
            process = await trio.lowlevel.open_process(
                [*CLI, "crawl", "--base-url", base[0], "--db", str(db), "--no-dashboard",
                 "--config", str(config)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**child_env(), mark.split("=")[0]: mark.split("=")[1]},
                cwd=tmp_path,
            )  # fmt: skip
            try:
                assert process.stdout is not None
                output = b""
                while chunk := await process.stdout.receive_some(65536):
                    output += chunk
                status = await process.wait()
            finally:
                await stop(process)
        elapsed = time.monotonic() - started
        nursery.cancel_scope.cancel()
    text = output.decode()
    assert status == 0, text  # partial: the rest of the catalogue was stored
    assert "Traceback" not in text
    assert elapsed < 20, elapsed
    with closing(sqlite3.connect(db)) as conn:
        failed = dict(
            conn.execute(
                "SELECT url, last_error FROM crawl_ledger WHERE state = 'failed' AND"
                " error_kind = 'parse_error'"
            ).fetchall()
        )
        stored = {url for (url,) in conn.execute("SELECT url FROM matter")}
        [(run_status,)] = conn.execute("SELECT status FROM crawl_runs").fetchall()
    assert run_status == "partial"
    hostile_urls = {url for url in failed if "/page/2/" in url or deep_slug in url}
    assert len(hostile_urls) == 2, failed
    for url in hostile_urls:
        assert "page too complex" in failed[url] and re.search(why, failed[url]), failed[url]
    # Everything else is stored: pages 1 and 3 but the deep product.
    expected = {p.slug for n in (1, 3) for p in catalogue.page(n)} - {deep_slug}
    assert {url.rstrip("/").rsplit("/", 1)[1] for url in stored} == expected
    # No process of the crawl is left (its parse processes included).
    deadline = time.monotonic() + 5
    while (left := processes_marked(mark)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await trio.sleep(0.05)  # (a killed process's exit, seen from outside: nothing to await)
    assert left == []
    assert os.environ.get(mark.split("=")[0]) is None
