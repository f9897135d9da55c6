"""The engine stands on its own: importing it loads nothing of HTTP, HTML, SQL or config."""

from __future__ import annotations

import subprocess
import sys


def loaded_by(module: str, *suspects: str) -> list[str]:
    """Which of `suspects` a fresh interpreter has loaded after ``import module``."""
    code = f"import sys, {module}; print(' '.join(m for m in {suspects!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.split()


def test_importing_the_engine_loads_no_http_html_sql_or_config() -> None:
    suspects: tuple[str, ...] = ("httpx", "lxml", "selectolax", "sqlite3", "trio_crawl.config")
    suspects += ("trio_crawl.crawling", "trio_crawl.stores")
    assert loaded_by("trio_crawl.engine", *suspects) == []


def test_the_public_names_still_load_on_first_use() -> None:
    code = "from trio_crawl import CrawlConfig, ConfigError, crawl, open_session; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "ok"


def test_a_site_loads_without_trio_or_the_engine() -> None:
    # What a parse process (crawling/parsing.py) imports to unpickle its site: the crawl's
    # first pages are parsed in the crawl's own thread until it is ready, so every module it
    # need not load counts (trio and the actors were ~85 ms of a ~220 ms start here).
    suspects = ("trio", "trio_crawl.engine", "httpx", "sqlite3", "trio_crawl.crawling")
    assert loaded_by("trio_crawl.sites", *suspects) == []
