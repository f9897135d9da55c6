"""parse_url gives the URL httpx.URL gives, for every text: the fast path or httpx itself."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.crawling import urls
from trio_crawl.crawling.urls import parse_url

# Characters that matter to a URL's parse: separators, escapes, dots, case, what httpx escapes.
_PIECES = st.sampled_from(
    [*"aZ09-._~!$&'()*+,;=:@/?#%[]| \"<>\\^`{}\t", "%20", "%zz", "%2F", "..", ".", "é", "/./"]
)
# Only what the fast path takes, dot segments included: where a wrong answer would hide.
_PLAIN_PIECES = st.sampled_from([*"aZ09-._~/?=&", "..", ".", "/./", "/../", "%20", "%2f"])
_HOSTS = st.sampled_from(
    ["example.com", "EXAMPLE.com", "127.0.0.1", "999.1.1.1", "a..b", "xn--bcher-kva.example",
     "bücher.example", "[::1]", "user@host", "host.", "-host", "h_st"]
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
