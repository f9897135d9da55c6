"""The ``[http]`` options reach the wire: user agent, headers, cookies, proxy, trust_env, cache.

Every server here is real and on 127.0.0.1 (tests/crawling/http_server.py, and the forward
proxy of tests/crawling/forward_proxy.py); settings come from `CrawlConfig` through
`fetch_settings`, the way a crawl builds its fetcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import CrawlConfig
from trio_crawl.api import fetch_settings, recorded_config
from trio_crawl.crawling.http import CACHE_FILE, Fetcher, FetchSettings

from .forward_proxy import ForwardProxy, serve_forward_proxy
from .http_server import Reply, Request, serve_routes

PAGE = b"<html><body><h1>hello</h1></body></html>"


def settings_of(http: dict[str, Any]) -> FetchSettings:
    return fetch_settings(CrawlConfig.from_dict({"http": http}))


class Recorder:
    """A route that answers a page and keeps every request it saw."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    async def __call__(self, request: Request) -> Reply:
        self.requests.append(request)
        return Reply(body=PAGE)

    def headers(self, name: str) -> list[str]:
        return [v for r in self.requests for k, v in r.headers if k.lower() == name]


async def test_default_user_agent_names_trio_crawl_and_its_version(nursery: trio.Nursery) -> None:
    from trio_crawl import __version__

    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    async with Fetcher.open(settings_of({})) as fetcher:
        await fetcher.get(f"{base}/p")
    assert page.headers("user-agent") == [f"trio-crawl/{__version__}"]


async def test_user_agent_headers_and_cookies_from_config_reach_the_server(
    nursery: trio.Nursery,
) -> None:
    page = Recorder()
    robots = Recorder()
    base = await nursery.start(serve_routes, {"/p": page, "/robots.txt": robots})
    settings = settings_of(
        {
            "user_agent": "catalogue-bot/2.1 (+https://example.org/bot)",
            "headers": {"Accept-Language": "de-CH", "X-Team": "crawl"},
            "cookies": {"session": "abc123", "consent": "yes"},
        }
    )
    async with Fetcher.open(settings) as fetcher:
        await fetcher.get(f"{base}/p")
        await fetcher.get(f"{base}/p")
    assert page.headers("user-agent") == ["catalogue-bot/2.1 (+https://example.org/bot)"] * 2
    assert page.headers("accept-language") == ["de-CH"] * 2
    assert page.headers("x-team") == ["crawl"] * 2
    cookies = page.headers("cookie")
    assert len(cookies) == 2
    assert all(sorted(c.split("; ")) == ["consent=yes", "session=abc123"] for c in cookies)
    # robots.txt is asked for as the same agent.
    assert robots.headers("user-agent") == ["catalogue-bot/2.1 (+https://example.org/bot)"]


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_cookies_a_server_sets_are_sent_back_and_kept(
    nursery: trio.Nursery, transport: str
) -> None:
    page = Recorder()

    async def login(request: Request) -> Reply:
        page.requests.append(request)
        return Reply(
            headers=[("Content-Type", "text/html"), ("Set-Cookie", "visit=42; Path=/")],
            body=PAGE,
        )

    base = await nursery.start(serve_routes, {"/login": login, "/p": page})
    settings = settings_of({"cookies": {"consent": "yes"}, "transport": transport})
    async with Fetcher.open(settings) as fetcher:
        await fetcher.get(f"{base}/p")
        await fetcher.get(f"{base}/login")
        await fetcher.get(f"{base}/p")  # a response without Set-Cookie keeps the jar as it is
        await fetcher.get(f"{base}/p")
    sent = [sorted(c.split("; ")) for c in page.headers("cookie")]
    assert sent == [["consent=yes"]] * 2 + [["consent=yes", "visit=42"]] * 2


async def test_reloaded_headers_apply_from_the_next_request(nursery: trio.Nursery) -> None:
    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    async with Fetcher.open(settings_of({"headers": {"X-Run": "one"}})) as fetcher:
        await fetcher.get(f"{base}/p")
        fetcher.update_settings(settings_of({"user_agent": "bot/2", "headers": {"X-New": "2"}}))
        await fetcher.get(f"{base}/p")
    assert page.headers("x-run") == ["one"]
    assert page.headers("x-new") == ["2"]
    assert page.headers("user-agent")[1] == "bot/2"


async def test_requests_go_through_the_configured_proxy(nursery: trio.Nursery) -> None:
    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    proxy: ForwardProxy = await nursery.start(serve_forward_proxy)
    settings = settings_of({"proxy": proxy.url, "user_agent": "proxied-bot/1"})
    async with Fetcher.open(settings) as fetcher:
        fetched = await fetcher.get(f"{base}/p?q=1")
    assert fetched.body == PAGE
    targets = [r.target for r in proxy.relayed]
    assert targets == [f"{base}/robots.txt", f"{base}/p?q=1"]
    assert proxy.relayed[1].header("user-agent") == "proxied-bot/1"
    # The origin saw the request only through the proxy (httpx's own client made it).
    assert len(page.requests) == 1
    assert proxy.refused == 0


async def test_environment_proxy_is_ignored_unless_trust_env(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    proxy: ForwardProxy = await nursery.start(serve_forward_proxy)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)

    async with Fetcher.open(settings_of({})) as fetcher:
        await fetcher.get(f"{base}/p")
    assert proxy.relayed == []
    assert len(page.requests) == 1

    async with Fetcher.open(settings_of({"trust_env": True})) as fetcher:
        await fetcher.get(f"{base}/p")
    assert [r.target for r in proxy.relayed] == [f"{base}/robots.txt", f"{base}/p"]
    assert len(page.requests) == 2


async def test_second_run_is_served_from_the_on_disk_cache(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    page = Recorder()
    missing = Recorder()

    async def not_found(request: Request) -> Reply:
        missing.requests.append(request)
        return Reply(status=404, body=b"<p>no</p>")

    base = await nursery.start(serve_routes, {"/p": page, "/robots.txt": page, "/gone": not_found})
    settings = settings_of({"cache": True, "cache_dir": str(tmp_path / "cache")})
    for _run in range(2):
        async with Fetcher.open(settings) as fetcher:
            assert (await fetcher.get(f"{base}/p")).body == PAGE
            with pytest.raises(Exception, match="HTTP 404"):
                await fetcher.get(f"{base}/gone")
    # The first run fetched robots.txt and the page; the second asked the server for neither.
    assert [r.path for r in page.requests] == ["/robots.txt", "/p"]
    # Failures are never cached: the 404 was asked for both times.
    assert len(missing.requests) == 2
    assert (tmp_path / "cache" / CACHE_FILE).is_file()


async def test_cache_is_off_by_default(nursery: trio.Nursery, tmp_path: Path) -> None:
    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    for _run in range(2):
        async with Fetcher.open(settings_of({"cache_dir": str(tmp_path / "c")})) as fetcher:
            await fetcher.get(f"{base}/p")
    assert len(page.requests) == 2
    assert not (tmp_path / "c").exists()


def test_recorded_config_masks_cookie_values_and_proxy_password() -> None:
    config = CrawlConfig.from_dict(
        {"http": {"cookies": {"session": "s3cret"}, "proxy": "http://me:pa55@proxy.local:3128"}}
    )
    recorded = recorded_config(config)
    assert recorded["http"]["cookies"] == {"session": "***"}
    assert recorded["http"]["proxy"] == "http://me:***@proxy.local:3128"
    assert "s3cret" not in repr(recorded) and "pa55" not in repr(recorded)
    # The config itself keeps its values.
    assert config.http.cookies["session"] == "s3cret"


async def test_both_transports_put_the_same_request_head_on_the_wire(
    nursery: trio.Nursery,
) -> None:
    # On its own transport the fetcher builds requests without httpx's client; the server must
    # not be able to tell (same headers, same order, same values, robots.txt included).
    page = Recorder()
    robots = Recorder()
    base = await nursery.start(serve_routes, {"/p": page, "/robots.txt": robots})
    heads: dict[str, list[list[tuple[str, str]]]] = {}
    for transport in ("trio", "httpcore"):
        settings = settings_of(
            {
                "user_agent": "catalogue-bot/2.1",
                "headers": {"Accept": "text/html", "X-Team": "crawl"},
                "cookies": {"consent": "yes"},
                "transport": transport,
            }
        )
        async with Fetcher.open(settings) as fetcher:
            await fetcher.get(f"{base}/p?q=1")
        seen = robots.requests + page.requests
        heads[transport] = [[(k.lower(), v) for k, v in r.headers] for r in seen]
        page.requests.clear()
        robots.requests.clear()
    assert heads["trio"] == heads["httpcore"]
    assert [name for name, _ in heads["trio"][1]] == [
        "host",
        "connection",  # httpx's defaults first, then ours (a name we set moves to the end)
        "accept",
        "x-team",
        "user-agent",
        "accept-encoding",
        "cookie",
    ]


@pytest.mark.parametrize("client", ["trio", "httpcore", "cache"])
@pytest.mark.parametrize(
    "raw", [b"name=caf\xc3\xa9; Path=/", b"name=caf\xe9; Path=/", b"caf\xe9=1; Path=/"]
)
async def test_a_cookie_that_cannot_be_sent_back_is_dropped_not_a_crash(
    nursery: trio.Nursery, tmp_path: Path, client: str, raw: bytes
) -> None:
    # A header value is ASCII on the way out (httpx encodes the Cookie header so); a jar that
    # kept a server's non-ASCII cookie made every later request to that host raise
    # UnicodeEncodeError, which is no StageError: a bug that a hostile server could trigger.
    page = Recorder()

    async def login(request: Request) -> Reply:
        headers: Any = [("Content-Type", "text/html"), ("Set-Cookie", raw)]
        return Reply(headers=[*headers, ("Set-Cookie", "visit=42; Path=/")], body=PAGE)

    base = await nursery.start(serve_routes, {"/login": login, "/p": page})
    http: dict[str, Any] = {"cookies": {"consent": "yes"}}
    if client == "cache":
        http["cache_dir"] = str(tmp_path / "cache")  # hishel's client, on httpcore
    else:
        http["transport"] = client
    async with Fetcher.open(settings_of(http)) as fetcher:
        await fetcher.get(f"{base}/login")
        fetched = await fetcher.get(f"{base}/p")
    assert fetched.body == PAGE
    assert [sorted(c.split("; ")) for c in page.headers("cookie")] == [["consent=yes", "visit=42"]]


@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_credentials_in_the_url_are_sent_as_basic_auth_on_both_transports(
    nursery: trio.Nursery, transport: str
) -> None:
    # httpx's client turns a URL's user:password into Basic auth; so must the fetcher when it
    # builds requests itself (crawling/httpx_client.py), or a catalogue behind a password is a 401.
    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page, "/q": page})
    settings = settings_of({"transport": transport, "robots_txt": False})
    async with Fetcher.open(settings) as fetcher:
        await fetcher.get(base.replace("http://", "http://crawl%40team:s%C3%A9same@") + "/p")
        await fetcher.get(f"{base}/q")
    # "crawl@team:sésame" (UTF-8), base64; the request without credentials has none.
    assert page.headers("authorization") == ["Basic Y3Jhd2xAdGVhbTpzw6lzYW1l"]
    assert [r.path for r in page.requests] == ["/p", "/q"]


async def test_a_failure_after_the_response_arrived_gives_its_connection_back(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On the own transport the fetcher's sender holds the response before the fetcher does;
    # if reading its cookies fails, the response must still be closed, or its connection
    # stays taken and, with one connection, the next request waits for the pool in vain.
    from trio_crawl.crawling import httpx_client

    page = Recorder()
    base = await nursery.start(serve_routes, {"/p": page})
    calls = 0

    def failing_once(self: httpx_client.Cookies, response: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("cookie jar broke")

    monkeypatch.setattr(httpx_client.Cookies, "extract_cookies", failing_once)
    settings = fetch_settings(
        CrawlConfig.from_dict(
            {
                "http": {"robots_txt": False},
                "concurrency": {"max_connections": 1},
                "crawl": {"request_timeout_secs": 2.0},
            }
        )
    )
    async with Fetcher.open(settings) as fetcher:
        with pytest.raises(RuntimeError, match="cookie jar broke"):
            await fetcher.get(f"{base}/p")
        fetched = await fetcher.get(f"{base}/p")
    assert fetched.body == PAGE
    assert len(page.requests) == 2
