"""The connection to Redis, through coredis.

coredis is built on anyio, so it runs on trio as it is: no asyncio loop, no bridge thread.
It is an optional dependency (the `distributed` extra); without it, connecting says which
extra to install, in one line, instead of an import error from deep inside the crawl.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import coredis

DISTRIBUTED_EXTRA = "pip install 'trio-crawl[distributed]'"


class RedisUnavailable(Exception):
    """Redis cannot be used: the client is not installed or the URL is wrong."""


def check_url(url: str) -> str:
    """`url` if it names a Redis server (``redis://host:port/db``), else `RedisUnavailable`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError as exc:
        raise RedisUnavailable(f"wrong Redis URL {url}: {exc}") from None
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise RedisUnavailable(f"wrong Redis URL {url}: use redis://host:port/db")
    return url


def connect(url: str) -> coredis.Redis[str]:
    """A client for `url` (not connected yet: use it as ``async with client:``)."""
    check_url(url)
    try:
        import coredis
    except ImportError:
        raise RedisUnavailable(
            f"--redis needs the Redis client coredis, which is not installed: {DISTRIBUTED_EXTRA}"
        ) from None
    return coredis.Redis.from_url(url, decode_responses=True)
