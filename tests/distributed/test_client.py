"""The Redis client runs on trio itself (coredis is anyio-based), and without it the error
names the extra to install."""

from __future__ import annotations

import sys

import pytest

from trio_crawl.distributed.client import DISTRIBUTED_EXTRA, RedisUnavailable, connect


async def test_the_client_runs_under_trio(redis_target: tuple[str, str]) -> None:
    import sniffio

    url, prefix = redis_target
    assert sniffio.current_async_library() == "trio"
    async with connect(url) as client:
        assert await client.ping() == "PONG"
        await client.set(f"{prefix}:k", "v")
        assert await client.get(f"{prefix}:k") == "v"


def test_without_coredis_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coredis", None)  # import coredis now raises ImportError
    with pytest.raises(RedisUnavailable) as caught:
        connect("redis://127.0.0.1:6379/0")
    assert DISTRIBUTED_EXTRA in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://", "redis://host:port/0"])
def test_a_wrong_url_is_refused(url: str) -> None:
    with pytest.raises(RedisUnavailable, match="wrong Redis URL"):
        connect(url)
