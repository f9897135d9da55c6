"""What importing a package loads at run time: the part of the layering a static rule cannot see.

Which package may import which is checked by `lint-imports` (`[tool.importlinter]` in
pyproject.toml, run by `make lint`). These tests check what only running the import shows: the
public names load lazily, and a site imports without trio.
"""

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


def test_the_public_names_still_load_on_first_use() -> None:
    code = "from trio_crawl import CrawlConfig, ConfigError, crawl, open_session; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "ok"


def test_importing_the_package_loads_no_layer_until_a_name_is_used() -> None:
    suspects = ("trio", "httpx", "sqlite3", "trio_crawl.engine", "trio_crawl.config")
    assert loaded_by("trio_crawl", *suspects) == []


def test_a_site_loads_without_trio_or_the_engine() -> None:
    # What a parse process (crawling/parsing.py) imports to unpickle its site: the crawl's
    # first pages are parsed in the crawl's own thread until it is ready, so every module it
    # need not load counts. The import rules forbid the imports; this checks that nothing
    # loads them another way (the package root's lazy names, say).
    suspects = ("trio", "trio_crawl.engine", "httpx", "sqlite3", "trio_crawl.crawling")
    assert loaded_by("trio_crawl.sites", *suspects) == []
