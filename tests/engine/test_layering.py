"""The engine stands on its own: importing it loads nothing of HTTP, HTML, SQL or config."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_engine_loads_no_http_html_sql_or_config() -> None:
    code = (
        "import sys, trio_crawl.engine; "
        "print(' '.join(m for m in ('httpx', 'lxml', 'selectolax', 'sqlite3', 'trio_crawl.config', "
        "'trio_crawl.crawling', 'trio_crawl.stores') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""


def test_the_public_names_still_load_on_first_use() -> None:
    code = "from trio_crawl import CrawlConfig, ConfigError, crawl, open_session; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "ok"
