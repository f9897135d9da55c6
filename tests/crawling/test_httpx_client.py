"""What the fetcher keeps of httpx's client (crawling/httpx_client.py) does what the client does.

parse_url gives the URL httpx.URL gives, for every text (the fast path or httpx itself); the
request head, the cookies, the Basic auth, the Location reading, the closed-client error and
the environment's proxy are each compared with `httpx.AsyncClient` itself. These are the tests
pyproject.toml pins httpx by.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.crawling import httpx_client as urls
from trio_crawl.crawling.httpx_client import CLOSED_TEXT, environment_proxy, parse_url
from trio_crawl.crawling.senders import EnvironmentProxies, Sender

from .forward_proxy import ForwardProxy, serve_forward_proxy
from .http_server import Reply, serve_routes

# Characters that matter to a URL's parse: separators, escapes, dots, case, what httpx escapes.
_PIECES = st.sampled_from(
    [*"aZ09-._~!$&'()*+,;=:@/?#%[]| \"<>\\^`{}\t", "%20", "%zz", "%2F", "..", ".", "é", "/./"]
)
# Only what the fast path takes, dot segments included: where a wrong answer would hide.
_PLAIN_PIECES = st.sampled_from([*"aZ09-._~/?=&", "..", ".", "/./", "/../", "%20", "%2f"])
_HOSTS = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com",
        "127.0.0.1",
        "999.1.1.1",
        "a..b",
        "xn--bcher-kva.example",
        "bücher.example",
        "[::1]",
        "user@host",
        "host.",
        "-host",
        "h_st",
    ]
)
_PORTS = st.sampled_from(["", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":99999", ":"])


_PARTS = ("scheme", "userinfo", "host", "port", "raw_path", "query", "fragment")


def _outcome(parse: Callable[[str], httpx.URL], text: str) -> object:
    """What `parse` makes of `text`: the URL's parts, its text and hash, or what it raised
    (whatever httpx raises, parse_url must raise). Two URLs with equal text are equal."""
    try:
        url = parse(text)
    except Exception as exc:
        return type(exc)
    return ([_read(url, name) for name in _PARTS], str(url), hash(url))


def _read(url: httpx.URL, name: str) -> object:
    try:
        return getattr(url, name)
    except Exception as exc:  # url.host decodes IDNA when read, and may raise
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "ftp"]),
    host=_HOSTS,
    port=_PORTS,
    path=st.lists(_PIECES, max_size=12).map("".join)
    | st.lists(_PLAIN_PIECES, max_size=12).map("".join),
)
def test_parse_url_equals_httpx_url(scheme: str, host: str, port: str, path: str) -> None:
    for text in (
        f"{scheme}://{host}{port}{'/' if path[:1] not in '/?#' else ''}{path}",
        f"{scheme}://{host}{port}{path}",
    ):
        assert _outcome(parse_url, text) == _outcome(httpx.URL, text), text


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:41234/csa_product/ikea-of-sweden-vindstyrka-air-quality-sensor-98/",
        "https://csa-iot.org/csa-iot_products/page/3/?p_type%5B%5D=14&p_keywords=&p_certificate=",
        "https://csa-iot.org:443/a?b=c&d=%20",
        "http://example.com",
        "http://example.com?q",
        "http://example.com/a/./b/../c",
        "http://example.com/" + "x" * 70_000,
    ],
)
def test_crawl_urls(text: str) -> None:
    assert _outcome(parse_url, text) == _outcome(httpx.URL, text)


def test_plain_urls_take_the_fast_path() -> None:
    """The point of it: a plain detail URL does not go through httpx's parser."""
    assert urls._ParseResult is not None  # this httpx builds URLs as the module expects
    parse_url("https://csa-iot.org/")  # the origin, parsed by httpx once
    calls = []
    real = httpx.URL.__init__

    def counting(self: httpx.URL, *args: object, **kwargs: object) -> None:
        calls.append(args)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.URL, "__init__", counting)
        url = parse_url("https://csa-iot.org/csa_product/some-lock-12/?x=1")
        parse_url("https://csa-iot.org/a/./b")  # a dot segment: httpx's
    assert url == httpx.URL("https://csa-iot.org/csa_product/some-lock-12/?x=1")
    assert calls == [("https://csa-iot.org/a/./b",)]


# --- parity with httpx.AsyncClient: each kept part of the client against the client itself ----
#
# Both sides get the same answers from an `httpx.MockTransport` that keeps the requests it saw,
# so a difference in what they send or how they read an answer shows as a failing comparison.

Answer = Callable[[httpx.Request], httpx.Response]


def _page(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>hi</p>")


def _ours(
    answer: Answer, headers: dict[str, str], cookies: dict[str, str]
) -> tuple[Sender, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return Sender(httpx.MockTransport(keep), 30.0, headers, cookies), seen


def _httpx(
    answer: Answer, headers: dict[str, str], cookies: dict[str, str]
) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = httpx.AsyncClient(
        transport=httpx.MockTransport(keep),
        headers=headers,
        cookies=cookies,
        follow_redirects=False,
        trust_env=False,
    )
    return client, seen


def _crawl_headers(extra: dict[str, str]) -> dict[str, str]:
    """The header dict the fetcher hands to its sender (http.py's `_request_headers`)."""
    return {**extra, "user-agent": "bot/1", "accept-encoding": "gzip, deflate"}


@pytest.mark.parametrize(
    ("extra", "cookies", "url"),
    [
        pytest.param({}, {}, "http://example.com/p?q=1", id="defaults"),
        pytest.param(
            {"Accept": "text/html", "X-Team": "crawl"},
            {"consent": "yes"},
            "http://example.com:8080/p",
            id="headers-cookies-port",
        ),
        pytest.param({"Host": "other.example"}, {}, "http://example.com/", id="own-host"),
        pytest.param(
            {}, {"a": "1"}, "http://crawl%40team:s%C3%A9same@example.com/p", id="basic-auth"
        ),
        pytest.param({}, {}, "http://user@example.com/p", id="user-only"),
        pytest.param({}, {}, "https://example.com/p#frag", id="https-fragment"),
    ],
)
async def test_the_request_head_is_the_one_httpx_client_builds(
    extra: dict[str, str], cookies: dict[str, str], url: str
) -> None:
    headers = _crawl_headers(extra)
    sender, ours = _ours(_page, headers, cookies)
    client, theirs = _httpx(_page, headers, cookies)
    async with client:
        await (await sender.get(parse_url(url))).aclose()
        await client.get(url)
    await sender.aclose()
    assert [(r.method, str(r.url), r.headers.raw) for r in ours] == [
        (r.method, str(r.url), r.headers.raw) for r in theirs
    ]


async def test_cookies_a_server_sets_come_back_as_httpx_client_sends_them() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(
                200,
                headers=[
                    ("Set-Cookie", "session=s1; Path=/"),
                    ("Set-Cookie", "scoped=x; Path=/area"),
                    ("Set-Cookie", "gone=1; Path=/; Max-Age=0"),
                ],
            )
        return _page(request)

    headers = _crawl_headers({})
    sender, ours = _ours(answer, headers, {"consent": "yes"})
    client, theirs = _httpx(answer, headers, {"consent": "yes"})
    urls = ["http://example.com/login", "http://example.com/area/p", "http://example.com/q"]
    async with client:
        for url in urls:
            await (await sender.get(parse_url(url))).aclose()
            await client.get(url)
    await sender.aclose()
    assert [r.headers.get("cookie") for r in ours] == [r.headers.get("cookie") for r in theirs]
    assert "scoped=x" in (ours[1].headers.get("cookie") or "")


REDIRECT_CASES = [
    ("/new?page=2", "http://example.com/start"),
    ("new", "http://example.com/dir/start"),
    ("../new", "http://example.com/dir/sub/start"),
    ("/new", "http://example.com/start#part"),
    ("/new#own", "http://example.com/start#part"),
    ("http:///new", "http://example.com:8080/start"),
    ("https://other.example/x", "http://example.com/start"),
    ("//other.example/x", "https://example.com/start"),
    ("?q=2", "http://example.com/a/b?q=1"),
]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 300, 304, 200])
@pytest.mark.parametrize(("location", "start"), REDIRECT_CASES)
async def test_a_location_points_where_httpx_client_points(
    status: int, location: str, start: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Location": location})

    headers = _crawl_headers({})
    sender, _ = _ours(answer, headers, {})
    client, _ = _httpx(answer, headers, {})
    async with client:
        response = await sender.get(parse_url(start))
        ours = sender.redirect(response)
        await response.aclose()
        following = (await client.get(start)).next_request
    await sender.aclose()
    assert ours == (None if following is None else following.url)


async def test_an_unreadable_location_fails_with_httpx_client_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://[::1/broken"})

    headers = _crawl_headers({})
    sender, _ = _ours(answer, headers, {})
    client, _ = _httpx(answer, headers, {})
    response = await sender.get(parse_url("http://example.com/"))
    with pytest.raises(httpx.RemoteProtocolError) as ours:
        sender.redirect(response)
    async with client:
        with pytest.raises(httpx.RemoteProtocolError) as theirs:
            await client.get("http://example.com/")
    await sender.aclose()
    assert str(ours.value) == str(theirs.value)


async def test_a_closed_sender_refuses_as_a_closed_httpx_client_does() -> None:
    sender, _ = _ours(_page, _crawl_headers({}), {})
    client, _ = _httpx(_page, _crawl_headers({}), {})
    await sender.aclose()
    await client.aclose()
    with pytest.raises(RuntimeError) as ours:
        await sender.get(parse_url("http://example.com/"))
    with pytest.raises(RuntimeError) as theirs:
        await client.get("http://example.com/")
    assert str(ours.value) == str(theirs.value) == CLOSED_TEXT


@pytest.mark.parametrize(
    "no_proxy", [None, "", "127.0.0.1", "localhost", "example.org,127.0.0.1", "*", "127.0.0.2"]
)
async def test_the_environment_proxy_is_the_one_httpx_client_takes(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, no_proxy: str | None
) -> None:
    # Real servers: httpx's client reads the environment only when it builds its own
    # transports, so the comparison is what a forward proxy relays for each.
    base = await nursery.start(serve_routes, {"/p": lambda request: _reply()})
    proxy: ForwardProxy = await nursery.start(serve_forward_proxy)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)
        monkeypatch.setenv("no_proxy", no_proxy)
    async with httpx.AsyncClient(trust_env=True) as client:
        await client.get(f"{base}/p")
    theirs = len(proxy.relayed)
    sender = Sender(
        EnvironmentProxies(lambda through: httpx.AsyncHTTPTransport(proxy=through)),
        30.0,
        _crawl_headers({}),
        {},
    )
    await (await sender.get(parse_url(f"{base}/p"))).aclose()
    await sender.aclose()
    assert len(proxy.relayed) - theirs == theirs
    assert (environment_proxy(httpx.URL(f"{base}/p")) is not None) == bool(theirs)


async def _reply() -> Reply:
    return Reply(body=b"<p>hi</p>")
