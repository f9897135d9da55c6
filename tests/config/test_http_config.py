"""``[http]``: defaults, bounds and the wording of its ConfigErrors."""

from __future__ import annotations

from typing import Any

import pytest

from trio_crawl import ConfigError, CrawlConfig, __version__
from trio_crawl.config.http import MAX_HEADERS, HttpConfig


def test_defaults_obey_robots_and_keep_to_the_config() -> None:
    http = CrawlConfig().http
    assert http.user_agent == f"trio-crawl/{__version__}"
    assert (http.robots_txt, http.trust_env, http.cache, http.proxy) == (True, False, False, "")
    assert dict(http.headers) == {} and dict(http.cookies) == {}


def test_a_full_table_round_trips_through_to_dict() -> None:
    config = CrawlConfig.from_dict(
        {
            "http": {
                "user_agent": "bot/1 (+https://example.org)",
                "headers": {"Accept-Language": "fr", "X-Token": "a b\tc"},
                "cookies": {"sid": "x1"},
                "proxy": "https://user:pw@proxy.example:8443",
                "trust_env": True,
                "robots_txt": False,
                "max_crawl_delay_secs": 0,
                "cache": True,
                "cache_dir": "/tmp/c",
                "cache_ttl_secs": 60,
            }
        }
    )
    assert config.http.cache_ttl_secs == 60.0
    assert CrawlConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("http", "path", "expected"),
    [
        ({"user_agent": ""}, "http.user_agent", "non-empty string of printable ASCII"),
        ({"user_agent": "bot\r\nX: y"}, "http.user_agent", "printable ASCII"),
        ({"user_agent": "bøt"}, "http.user_agent", "printable ASCII"),
        ({"headers": {"User-Agent": "x"}}, "http.headers.User-Agent", "http.user_agent"),
        ({"headers": {"cookie": "a=b"}}, "http.headers.cookie", "[http.cookies]"),
        ({"headers": {"Accept-Encoding": "br"}}, "http.headers.Accept-Encoding", "gzip"),
        ({"headers": {"Bad Name": "x"}}, "http.headers.Bad Name", "letters, digits"),
        ({"headers": {"X-A": "line\nbreak"}}, "http.headers.X-A", "printable ASCII"),
        ({"headers": {"X-A": 3}}, "http.headers.X-A", "printable ASCII"),
        ({"headers": {"x-a": "1", "X-A": "2"}}, "http.headers.X-A", "case-insensitive"),
        ({"headers": "X-A: 1"}, "http.headers", "a table of header names"),
        ({"cookies": {"sid": "a;b"}}, "http.cookies.sid", "without spaces"),
        ({"cookies": {"s id": "a"}}, "http.cookies.s id", "letters, digits"),
        ({"proxy": "socks5://127.0.0.1:1080"}, "http.proxy", "http:// or https://"),
        ({"proxy": "127.0.0.1:3128"}, "http.proxy", "http:// or https://"),
        ({"proxy": "http://proxy:99999"}, "http.proxy", "http:// or https://"),
        ({"proxy": "http://proxy:3128/path"}, "http.proxy", "http:// or https://"),
        ({"trust_env": "yes"}, "http.trust_env", "true or false"),
        ({"robots_txt": 1}, "http.robots_txt", "true or false"),
        ({"max_crawl_delay_secs": -1}, "http.max_crawl_delay_secs", "≥ 0"),
        ({"max_crawl_delay_secs": float("inf")}, "http.max_crawl_delay_secs", "86400"),
        ({"cache_dir": ""}, "http.cache_dir", "non-empty"),
        ({"cache_ttl_secs": 0}, "http.cache_ttl_secs", "> 0"),
        ({"cache_ttl_secs": 400 * 86400}, "http.cache_ttl_secs", "a year"),
    ],
)
def test_bad_values_name_their_path_and_what_is_allowed(
    http: dict[str, Any], path: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        CrawlConfig.from_dict({"http": http})
    assert info.value.path == path
    assert expected in info.value.expected


def test_too_many_headers_are_refused() -> None:
    headers = {f"X-{n}": "v" for n in range(MAX_HEADERS + 1)}
    with pytest.raises(ConfigError) as info:
        CrawlConfig.from_dict({"http": {"headers": headers}})
    assert info.value.path == "http.headers"
    assert f"at most {MAX_HEADERS}" in info.value.expected


def test_every_bad_header_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        CrawlConfig.from_dict({"http": {"headers": {"Host": "x", "X-A": "\x00"}, "cache": 2}})
    assert {p.path for p in info.value.problems} == {
        "http.headers.Host",
        "http.headers.X-A",
        "http.cache",
    }


def test_an_unknown_http_key_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as info:
        CrawlConfig.from_dict({"http": {"robots": True}})
    assert info.value.path == "http.robots"
    assert info.value.suggestion == "robots_txt"


def test_environment_overrides_http_scalars() -> None:
    config = CrawlConfig.from_dict(
        {},
        env={
            "TRIO_CRAWL__HTTP__USER_AGENT": "env-bot/1",
            "TRIO_CRAWL__HTTP__ROBOTS_TXT": "false",
            "TRIO_CRAWL__HTTP__PROXY": "http://127.0.0.1:3128",
        },
    )
    assert (config.http.user_agent, config.http.robots_txt) == ("env-bot/1", False)
    assert config.http.proxy == "http://127.0.0.1:3128"


def test_direct_construction_checks_the_same_rules() -> None:
    with pytest.raises(ConfigError) as info:
        HttpConfig(headers={"Connection": "close"})
    assert info.value.path == "headers.Connection"
    with pytest.raises(ConfigError):
        HttpConfig(proxy="ftp://proxy")
