"""What the fetcher keeps of `httpx.AsyncClient`'s logic, in one module beside its parity tests.

The fetcher sends every request straight to a transport (`senders.Sender`), without
`httpx.AsyncClient.send` around it: the client rebuilds each request from its defaults, copies
its cookie jar, runs its auth and redirect generators, scans its mounts and wraps the response
stream, which together cost about as much CPU as trio_crawl's transport spends on the whole
exchange (``benchmarks/transport.py`` prints both paths over the same transport). So the few
parts of the client the crawl needs live here, each shaped to give what the client gives, and
``tests/crawling/test_httpx_client.py`` compares each with `httpx.AsyncClient` itself:

- `client_headers`: the default headers (``Accept``, ``Accept-Encoding``, ``Connection``,
  ``User-Agent``) updated by ours, in the client's order;
- `Cookies`: the client's cookie jar (``http.cookiejar`` through httpx);
- `basic_auth`: credentials in a URL become Basic auth, after the cookies;
- `redirect_target`: where a Location points, and the error of one that cannot be read;
- `CLOSED_TEXT`: the error text of a request on a closed client;
- `environment_proxy`: which proxy the environment names for a URL (``trust_env``);
- `parse_url`: ``httpx.URL(text)`` without parsing a crawl's plain URLs from scratch;
- `raw_headers`, `header_items`: a response's ``headers.raw`` and ``headers.multi_items()``
  without copying them out of `httpx.Headers` again.

`parse_url` builds an `httpx.URL` through httpx's private ``_uri_reference``: this module is
the only one that does, it checks at import that this httpx builds URLs that way (falling back
to ``httpx.URL`` if not), and ``test_plain_urls_take_the_fast_path`` fails on an httpx that
changed it. pyproject.toml pins httpx to the versions these tests pass on.

About `parse_url`: ``httpx.URL(text)`` validates and normalises every part of the text each
time, one parse per page. A crawl's URLs are nearly all alike: a handful of origins, and paths
and queries made only of characters httpx leaves as they are. So `parse_url` lets httpx parse
each origin (``scheme://host:port``) once and keeps what it made of it (the lower-cased host,
the default port dropped, an IPv4 address checked); a URL whose path and query need no change
is put together from that and the text itself. Anything else (user info, a fragment, IPv6,
``.`` segments, characters httpx would escape, a lone ``%``) goes to ``httpx.URL`` unchanged.
The result is an ordinary `httpx.URL`, equal to ``httpx.URL(text)``: the tests compare the two
over generated URLs, attribute by attribute.
"""

from __future__ import annotations

import base64
import re
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

import httpx

from ..transport.body import ResponseStream

# --- the client's request: headers, cookies, auth ---------------------------------------------


def client_headers(headers: dict[str, str]) -> httpx.Headers:
    """The headers `httpx.AsyncClient(headers=headers)` sends: its defaults, updated by ours
    (`headers` always names the user agent and the accepted codings)."""
    merged = httpx.Headers(
        {
            "Accept": "*/*",
            "Accept-Encoding": headers["accept-encoding"],
            "Connection": "keep-alive",
            "User-Agent": headers["user-agent"],
        }
    )
    merged.update(headers)
    return merged


def basic_auth(username: str, password: str) -> str:
    """The Authorization value httpx's `BasicAuth` sends (UTF-8, base64)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def raw_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """``response.headers.raw``: every header line, the name as sent. From trio_crawl's
    transport, the parser's own list, which the response's headers were built from
    (``Headers.raw`` makes a new list of new pairs on every call)."""
    stream = response.stream
    if isinstance(stream, ResponseStream):
        return stream.raw_headers
    return response.headers.raw


def header_items(raw: list[tuple[bytes, bytes]], headers: httpx.Headers) -> list[tuple[str, str]]:
    """``headers.multi_items()`` from its raw lines: httpx decodes every name and value as
    ASCII when all of them are ASCII (nearly every response), looking its encoding up once per
    item; other responses take httpx's own way."""
    try:
        return [(name.lower().decode("ascii"), value.decode("ascii")) for name, value in raw]
    except UnicodeDecodeError:
        return headers.multi_items()


def _sendable(text: str | None) -> bool:
    return text is None or (text.isascii() and text.isprintable())


class Cookies(httpx.Cookies):
    """httpx's cookie jar, minus its cost on the responses that set no cookie, and minus the
    cookies it could not send back.

    httpx hands every response to ``http.cookiejar`` through urllib-shaped wrappers (a urllib
    ``Request`` rebuilt from the URL, the headers copied into an ``email.message``) even when
    there is no Set-Cookie, so a response without one skips the jar.

    ``http.cookiejar`` keeps a cookie whose name or value is not printable ASCII (a server
    may send UTF-8 or Latin-1 bytes there), and httpx then fails to build the Cookie header
    of every later request to that host, with a ``UnicodeEncodeError`` that is no transport
    error. Such a cookie is dropped as it arrives: the crawl goes on without it.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        # The names joined and lower-cased once, then one search in C, instead of a loop in
        # Python over the headers; a name that merely contains it only costs the jar's look.
        names = b"\n".join([name for name, _ in raw_headers(response)])
        if b"set-cookie" in names.lower():
            super().extract_cookies(response)
            jar = self.jar
            unsendable = [c for c in jar if not (_sendable(c.name) and _sendable(c.value))]
            for cookie in unsendable:
                jar.clear(cookie.domain, cookie.path, cookie.name)


CookieTypes = httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]

CLOSED_TEXT = "Cannot send a request, as the client has been closed."
"""httpx's client's words for a request on a closed client (a `RuntimeError`)."""


# --- the client's redirects --------------------------------------------------------------------

REDIRECTS = frozenset({301, 302, 303, 307, 308})


def redirect_target(response: httpx.Response) -> httpx.URL | None:
    """Where a redirect response points (None if it is not one to follow), as httpx's client
    reads a Location: a bad one is a protocol error, a host-less absolute one gets the
    request's host, a relative one is joined to the request URL, and the request's fragment
    is kept when the target has none."""
    if response.status_code not in REDIRECTS:
        return None
    location = response.headers.get("location")
    if location is None:
        return None
    request = response.request
    try:
        url = httpx.URL(location)
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(
            f"Invalid URL in location header: {exc}.", request=request
        ) from None
    if url.scheme and not url.host:
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)
    return url


# --- the client's environment proxies (trust_env) ----------------------------------------------


def environment_proxy(url: httpx.URL) -> str | None:
    """The proxy URL the environment names for `url` (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, less ``NO_PROXY``), or None: the client's ``trust_env=True`` choice.

    Read through ``urllib.request`` (what httpx reads too) at each call, so a change of the
    environment counts from the next request on, as for a new client."""
    proxies = urllib.request.getproxies()
    chosen = proxies.get(url.scheme) or proxies.get("all")
    if not chosen:
        return None
    if "*" in (host.strip() for host in proxies.get("no", "").split(",")):
        return None
    if urllib.request.proxy_bypass(url.netloc.decode("ascii")):
        return None
    return chosen if "://" in chosen else f"http://{chosen}"


# --- the client's URL, parsed once per origin --------------------------------------------------


_CHARS = r"A-Za-z0-9\-._~!$&'()*+,;=:@/"  # unreserved, sub-delims, ':', '@', '/': never escaped
_ESCAPE = r"%[0-9A-Fa-f]{2}"
_SIMPLE = re.compile(
    rf"(https?://[A-Za-z0-9.\-]+(?::[0-9]{{1,5}})?)"  # origin: httpx parses it (once)
    rf"((?:/(?:[{_CHARS}]|{_ESCAPE})*)?)"  # path: kept as it is
    rf"(?:\?((?:[{_CHARS}?]|{_ESCAPE})*))?",  # query: kept as it is
    re.ASCII,
)
_MAX_LENGTH = 65_536  # httpx refuses longer URLs
_MAX_ORIGINS = 1024


class _Origins:
    """What httpx made of each origin seen, as the parts of its parsed form."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, str, int | None]] = {}

    def parts(self, origin: str) -> tuple[str, str, int | None]:
        known = self._known.get(origin)
        if known is None:
            reference = httpx.URL(origin + "/")._uri_reference  # raises httpx.InvalidURL
            if reference.userinfo or reference.path != "/":  # not the plain origin it looked
                raise _NotSimple
            known = (reference.scheme, reference.host, reference.port)
            if len(self._known) >= _MAX_ORIGINS:
                self._known.clear()
            self._known[origin] = known
        return known


class _NotSimple(Exception):
    pass


_ORIGINS = _Origins()
_ParseResult: Any = None  # httpx's parsed form, when this httpx builds URLs as expected


def parse_url(text: str) -> httpx.URL:
    """``httpx.URL(text)``, cheaply when `text` is a plain http(s) URL (see the module)."""
    if _ParseResult is not None and len(text) <= _MAX_LENGTH:
        match = _SIMPLE.fullmatch(text)
        if match is not None:
            origin, path, query = match.groups()
            if "/." not in path:  # else httpx may drop "." and ".." segments
                try:
                    scheme, host, port = _ORIGINS.parts(origin)
                except _NotSimple:
                    return httpx.URL(text)
                url: httpx.URL = httpx.URL.__new__(httpx.URL)
                url._uri_reference = _ParseResult(scheme, "", host, port, path, query, None)
                return url
    return httpx.URL(text)


def _expected_build() -> Any:
    """httpx's parsed-form class, if a URL built from it is the URL httpx parses."""
    try:
        reference = httpx.URL("http://check.invalid:8080/a?b")._uri_reference
        kind = type(reference)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = kind("http", "", "check.invalid", 8080, "/a", "b", None)
        if url == httpx.URL("http://check.invalid:8080/a?b") and url.raw_path == b"/a?b":
            return kind
    except Exception:
        pass
    return None


_ParseResult = _expected_build()
