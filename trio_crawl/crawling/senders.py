"""How `Fetcher` puts one GET on the wire: through an `httpx.AsyncClient`, or straight into
`TrioTransport` when nothing of the client's is needed.

Why two: `httpx.AsyncClient.send` costs ~110 µs of CPU a request before the transport sees it
(the request rebuilt from the client's defaults, the cookie jar copied, the auth and redirect
generators, the mounts scanned, the response stream wrapped for ``elapsed``, a log record):
about as much as `TrioTransport` spends on the whole exchange. The crawler needs little of
that: it follows redirects itself, sets the same headers on every request, and its one kind of
auth is credentials in the URL. So when the request goes to trio_crawl's own transport (no
proxy, no environment, no cache: see `FetchSettings.own_transport`), `DirectSender` builds the
`httpx.Request` the client would have built (the same head on the wire: `client_headers`, the
cookies of an httpx jar, Basic auth from the URL's credentials) and hands it to the transport.
Every other configuration keeps `ClientSender`, httpx's client with all of its features.
Either way the caller gets an `httpx.Response` and httpx's exceptions.

Measured (client CPU a request, 32 workers on one 32-connection `TrioTransport`, a 13 KB page
from nginx on loopback, two runs):
``AsyncClient.get`` 282-291 µs, ``send(stream=True)`` 258-289 µs, the transport direct
156-173 µs.
"""

from __future__ import annotations

import base64
from http.cookiejar import CookieJar
from typing import Any, Protocol

import httpx
from hishel import AsyncSqliteStorage
from hishel.httpx import AsyncCacheClient

from ..transport import DEADLINE_EXTENSION, TrioTransport

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_BODY = httpx.ByteStream(b"")
_MAX_ORIGINS = 256


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


def _sendable(text: str | None) -> bool:
    return text is None or (text.isascii() and text.isprintable())


def basic_auth(username: str, password: str) -> str:
    """The Authorization value httpx's `BasicAuth` sends (UTF-8, base64)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class Cookies(httpx.Cookies):
    """httpx's cookie jar, minus its cost on the responses that set no cookie, and minus the
    cookies it could not send back.

    httpx hands every response to ``http.cookiejar`` through urllib-shaped wrappers, which
    costs ~30 µs a response (a urllib ``Request`` rebuilt from the URL, the headers copied
    into an ``email.message``) even when there is no Set-Cookie: ~6 % of a crawl's CPU.

    ``http.cookiejar`` keeps a cookie whose name or value is not printable ASCII (a server
    may send UTF-8 or Latin-1 bytes there), and httpx then fails to build the Cookie header
    of every later request to that host, with a ``UnicodeEncodeError`` that is no transport
    error. Such a cookie is dropped as it arrives: the crawl goes on without it.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        # One pass over the raw names (two `in` lookups decode and scan every header twice).
        if any(name.lower().startswith(b"set-cookie") for name, _ in response.headers.raw):
            super().extract_cookies(response)
            jar = self.jar
            unsendable = [c for c in jar if not (_sendable(c.name) and _sendable(c.value))]
            for cookie in unsendable:
                jar.clear(cookie.domain, cookie.path, cookie.name)


_CookieTypes = httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]


class _Client(httpx.AsyncClient):
    """An `httpx.AsyncClient` whose cookie jar is a `Cookies` (set through the public
    ``cookies`` property, as httpx's own code reads it)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._crawl_cookies = Cookies(super().cookies)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._crawl_cookies

    @cookies.setter
    def cookies(self, cookies: _CookieTypes) -> None:
        self._crawl_cookies = Cookies(cookies)


class _CacheClient(_Client, AsyncCacheClient):
    """hishel's caching client, with our cookie jar."""


class Sender(Protocol):
    """One shard of the fetcher: sends GETs, tells where a redirect points."""

    @property
    def is_closed(self) -> bool: ...

    async def get(self, url: httpx.URL, deadline: float | None = None) -> httpx.Response:
        """The response to a GET of `url`, its body not read yet (close it when done).
        `deadline`: the caller reads the whole response under a cancel scope with this
        deadline (`trio.current_time()` clock)."""
        ...

    def redirect(self, response: httpx.Response) -> httpx.URL | None:
        """Where a redirect response points (None if it is not one to follow)."""
        ...

    def configure(self, timeout_secs: float, headers: dict[str, str]) -> None:
        """Use this timeout and these headers from the next request on."""
        ...

    async def aclose(self) -> None: ...


class ClientSender:
    """A shard on an `httpx.AsyncClient` (its proxies, environment, cache and transports)."""

    __slots__ = ("_client",)

    def __init__(self, cache: AsyncSqliteStorage | None = None, **options: Any) -> None:
        """`options` are `httpx.AsyncClient`'s; with `cache`, responses are kept in it
        (hishel's `AsyncCacheClient`)."""
        self._client: httpx.AsyncClient = (
            _Client(**options) if cache is None else _CacheClient(storage=cache, **options)
        )

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    async def get(self, url: httpx.URL, deadline: float | None = None) -> httpx.Response:
        client = self._client
        # send(stream=True) rather than stream(): the same request without a generator-based
        # context manager around it.
        return await client.send(client.build_request("GET", url), stream=True)

    def redirect(self, response: httpx.Response) -> httpx.URL | None:
        following = response.next_request
        return None if following is None else following.url

    def configure(self, timeout_secs: float, headers: dict[str, str]) -> None:
        self._client.timeout = httpx.Timeout(timeout_secs)
        self._client.headers = headers

    async def aclose(self) -> None:
        await self._client.aclose()


class DirectSender:
    """A shard straight on a `TrioTransport`: the request `httpx.AsyncClient` would send
    (headers, timeout extension, cookies), without the client's layers around it."""

    __slots__ = ("_by_origin", "_closed", "_cookies", "_headers", "_timeouts", "_transport")

    def __init__(
        self,
        transport: TrioTransport,
        timeout_secs: float,
        headers: dict[str, str],
        cookies: dict[str, str],
    ) -> None:
        self._transport = transport
        self._cookies = Cookies(cookies)
        self._closed = False
        self._headers = httpx.Headers()
        self._by_origin: dict[bytes, httpx.Headers] = {}
        self._timeouts: dict[str, float | None] = {}
        self.configure(timeout_secs, headers)

    @property
    def is_closed(self) -> bool:
        return self._closed

    def configure(self, timeout_secs: float, headers: dict[str, str]) -> None:
        self._headers = client_headers(headers)
        self._by_origin = {}
        self._timeouts = httpx.Timeout(timeout_secs).as_dict()

    def _request_headers(self, url: httpx.URL) -> httpx.Headers:
        """The headers of a GET of `url` as ``httpx.Request`` completes them (``Host`` first,
        unless ours name one), made once per origin: httpx's own completion re-encodes every
        header of every request (~8 % of a crawl's thread)."""
        netloc = url.netloc
        headers = self._by_origin.get(netloc)
        if headers is None:
            headers = self._headers
            if "host" not in headers:
                headers = httpx.Headers([(b"Host", netloc), *headers.raw])
            if len(self._by_origin) >= _MAX_ORIGINS:
                self._by_origin.clear()
            self._by_origin[netloc] = headers
        return headers

    async def get(self, url: httpx.URL, deadline: float | None = None) -> httpx.Response:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        # With the caller's deadline, the transport need not walk trio's cancel scopes to
        # learn it before each read and write (~7 µs each at the crawl's depth).
        extensions: dict[str, Any] = {"timeout": self._timeouts}
        if deadline is not None:
            extensions[DEADLINE_EXTENSION] = deadline
        # With a stream given, httpx adds no headers of its own and reads no body: both done.
        request = httpx.Request(
            "GET", url, headers=self._request_headers(url), extensions=extensions, stream=_NO_BODY
        )
        cookies = self._cookies
        if cookies:
            cookies.set_cookie_header(request)
        if url.userinfo and (url.username or url.password):
            # As httpx's client does (after the cookies): credentials in the URL are Basic auth.
            request.headers["Authorization"] = basic_auth(url.username, url.password)
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            cookies.extract_cookies(response)
        except BaseException:
            await response.aclose()  # the caller never gets it to close: give its connection back
            raise
        return response

    def redirect(self, response: httpx.Response) -> httpx.URL | None:
        """As httpx's client reads a Location: a bad one is a protocol error, a host-less
        absolute one gets the request's host, a relative one is joined to the request URL,
        and the request's fragment is kept when the target has none."""
        if response.status_code not in _REDIRECTS:
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

    async def aclose(self) -> None:
        self._closed = True
        await self._transport.aclose()
