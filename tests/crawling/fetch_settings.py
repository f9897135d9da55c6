"""`settings_with`: a `FetchSettings` from flat option names, through the config's sections.

The fetcher has no defaults or checks of its own for what the config holds, so a test that
wants, say, a shorter timeout sets it where a config would, and the config's validators run.
"""

from __future__ import annotations

from typing import Any

from trio_crawl.config.http import HttpConfig
from trio_crawl.config.model import ConcurrencyConfig, CrawlSettings
from trio_crawl.crawling.http import FetchSettings

_SECTIONS = {
    "crawl": {"request_timeout_secs", "max_response_bytes", "allow_offsite_redirects"},
    "concurrency": {"max_connections"},
    "http": {
        "user_agent",
        "headers",
        "cookies",
        "proxy",
        "trust_env",
        "robots_txt",
        "max_crawl_delay_secs",
        "cache",
        "cache_dir",
        "cache_ttl_secs",
        "transport",
    },
}


def settings_with(**options: Any) -> FetchSettings:
    """`FetchSettings` with these options (a section's field, or `max_redirects`/`max_headers`)."""
    by_section: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    own: dict[str, Any] = {}
    for name, value in options.items():
        section = next((s for s, names in _SECTIONS.items() if name in names), None)
        (own if section is None else by_section[section])[name] = value
    return FetchSettings(
        crawl=CrawlSettings(**by_section["crawl"]),
        http=HttpConfig(**by_section["http"]),
        concurrency=ConcurrencyConfig(**by_section["concurrency"]),
        **own,
    )
