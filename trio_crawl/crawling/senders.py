"""How `Fetcher` puts one GET on the wire: the one request path.

Every request goes through a `Sender`: it builds the `httpx.Request` that `httpx.AsyncClient`
would build (the parts of the client it keeps are in `httpx_client`, with their parity tests)
and hands it straight to a transport, with no `httpx.AsyncClient` around it. Only the
transport differs with the ``[http]`` options (`open_transport`):

- by default, trio_crawl's own `TrioTransport`;
- ``transport = "httpcore"``, a ``proxy`` or ``trust_env``: httpx's own
  `httpx.AsyncHTTPTransport` (httpcore), through the proxy when one is named or, with
  ``trust_env``, the one the environment names for the URL (`EnvironmentProxies`);
- the on-disk cache: hishel's `AsyncCacheTransport` in front of httpcore's.

Why not the client: `httpx.AsyncClient.send` rebuilds each request from the client's
defaults, copies the cookie jar, runs the auth and redirect generators, scans the mounts and
wraps the response stream: about as much CPU as `TrioTransport` spends on the whole exchange,
for features the crawler does not use (it follows redirects itself, sets the same headers on
every request, and its one kind of auth is credentials in the URL). Either way the caller gets
an `httpx.Response` and httpx's exceptions.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from ..transport import DEADLINE_EXTENSION, TrioTransport
from .httpx_client import (
    CLOSED_TEXT,
    Cookies,
    basic_auth,
    client_headers,
    environment_proxy,
    redirect_target,
)

if TYPE_CHECKING:
    from hishel import AsyncSqliteStorage

_NO_BODY = httpx.ByteStream(b"")
_MAX_ORIGINS = 256


class EnvironmentProxies(httpx.AsyncBaseTransport):
    """httpcore's transport, through the proxy the environment names for each request's URL
    (``trust_env``), or direct; one transport per proxy, opened on first use."""

    def __init__(self, open_one: Callable[[str | None], httpx.AsyncBaseTransport]) -> None:
        self._open = open_one
        self._by_proxy: dict[str | None, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = environment_proxy(request.url)
        transport = self._by_proxy.get(proxy)
        if transport is None:
            transport = self._by_proxy[proxy] = self._open(proxy)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._by_proxy.values():
            await transport.aclose()


def open_transport(
    *,
    own: bool,
    connections: int,
    proxy: str | None,
    trust_env: bool,
    tls: Callable[[], ssl.SSLContext],
    cache: AsyncSqliteStorage | None,
) -> httpx.AsyncBaseTransport:
    """The transport of a pool of `connections` connections (see the module for which)."""
    if own:
        # TrioTransport builds its TLS context when it first meets an https origin.
        return TrioTransport(max_connections=connections, max_keepalive_connections=connections)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    def httpcore(through: str | None) -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport(verify=tls(), limits=limits, proxy=through)

    transport = EnvironmentProxies(httpcore) if proxy is None and trust_env else httpcore(proxy)
    if cache is not None:
        from hishel.httpx import AsyncCacheTransport  # only for a crawl that caches

        transport = AsyncCacheTransport(next_transport=transport, storage=cache)
    return transport


class Sender:
    """The fetcher's one way to send: the request `httpx.AsyncClient` would send (headers,
    timeout extension, cookies, Basic auth), straight to a transport."""

    __slots__ = ("_by_origin", "_closed", "_cookies", "_headers", "_timeouts", "_transport")

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
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
        """Use this timeout and these headers from the next request on."""
        self._headers = client_headers(headers)
        self._by_origin = {}
        self._timeouts = httpx.Timeout(timeout_secs).as_dict()

    def _request_headers(self, url: httpx.URL) -> httpx.Headers:
        """The headers of a GET of `url` as ``httpx.Request`` completes them (``Host`` first,
        unless ours name one), made once per origin: httpx's own completion re-encodes every
        header of every request."""
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
        """The response to a GET of `url`, its body not read yet (close it when done).
        `deadline`: the caller reads the whole response under a cancel scope with this
        deadline (`trio.current_time()` clock)."""
        if self._closed:
            raise RuntimeError(CLOSED_TEXT)
        # With the caller's deadline, the transport need not walk trio's cancel scopes to
        # learn it before each read and write (other transports ignore the extension).
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
        """Where a redirect response points (None if it is not one to follow)."""
        return redirect_target(response)

    async def aclose(self) -> None:
        self._closed = True
        await self._transport.aclose()
