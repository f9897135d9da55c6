"""Fetching pages over HTTP (httpx on trio), with every failure turned into a `StageError`.

What can go wrong, and the `ErrorKind` it becomes, is drawn in `failures`, which does the
classifying; callers never see a raw httpx exception.

Only httpx's public response API is used (status, headers, `aiter_raw`), so the decoding and
the bounds hold on any transport; a body from trio_crawl's own transport (the default) is read
with its `ResponseStream.read_into` instead: the same chunks, without an async generator.

Requests take one path: `Fetcher` → one `senders.Sender` → a transport (`TrioTransport`, or
httpx's httpcore transport for a proxy, ``trust_env``, the cache or ``transport = "httpcore"``);
no `httpx.AsyncClient`. The ``[http]`` options that shape requests (user agent, headers,
cookies) are applied by the sender, the ones that choose where they go (proxy, ``trust_env``,
the cache) by its transport, and robots.txt here, so they hold whatever transport is used.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import httpx
import trio

from trio_crawl.config.http import HttpConfig
from trio_crawl.config.model import ConcurrencyConfig, CrawlConfig, CrawlSettings
from trio_crawl.engine.results import ErrorKind, StageError

from ..transport.body import ResponseStream
from .decoding import BoundedBody, content_codings, too_large
from .failures import classify_status, map_http_errors
from .httpx_client import header_items, parse_url, raw_headers
from .politeness import Manners
from .robots import (
    ROBOTS_MAX_BYTES,
    ROBOTS_MAX_REDIRECTS,
    RobotsCache,
    RobotsRules,
    refusal,
    rules_from_answer,
)
from .senders import Sender, open_transport

if TYPE_CHECKING:
    from hishel import AsyncSqliteStorage

HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Media types `Fetcher.get` accepts; anything else is a `parse_error`."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Closing the sender is shielded from cancellation (so sockets never leak), but bounded, so a
# wedged close cannot hang the caller's shutdown.
_CLOSE_GRACE_SECS = 5.0

CACHE_FILE = "http-cache.db"
"""The SQLite file of the on-disk HTTP cache, inside `FetchSettings.cache_dir`."""

ACCEPT_ENCODING = "gzip, deflate"
"""What we ask for: the codings `decoding` inflates under the size limit (httpx would also offer
br and zstd when their packages are installed, which we refuse)."""


@attrs.frozen
class FetchSettings:
    """How `Fetcher` talks HTTP: the config's ``[crawl]``, ``[http]`` and ``[concurrency]``
    sections as the config made and checked them (one set of defaults and validators: the
    config's), plus two bounds the config does not expose.

    What the sender is built with (``max_connections``, the cookies, the proxy, ``trust_env``,
    the cache, the transport) is fixed when the fetcher opens; the rest can be changed live
    with `Fetcher.update_settings`.
    """

    crawl: CrawlSettings = attrs.field(factory=CrawlSettings)
    http: HttpConfig = attrs.field(factory=HttpConfig)
    concurrency: ConcurrencyConfig = attrs.field(factory=ConcurrencyConfig)
    max_redirects: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    max_headers: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    """Header lines a response may have (CPython's http.client allows 100 too). Their total
    size is bounded by the transport, which refuses a head over 100 KiB."""

    @classmethod
    def of(cls, config: CrawlConfig) -> FetchSettings:
        """The settings a config asks for."""
        return cls(config.crawl, config.http, config.concurrency)

    @property
    def max_connections(self) -> int:
        """Requests in flight, and so connections open, at most (``[concurrency]``)."""
        return self.concurrency.max_connections

    @property
    def proxy(self) -> str | None:
        """The proxy every request goes through (None: direct, or the environment's)."""
        return self.http.proxy or None

    @property
    def cache_dir(self) -> str | None:
        """Where the on-disk cache lives (None: no cache)."""
        return self.http.cache_dir if self.http.cache else None

    @property
    def own_transport(self) -> bool:
        """Whether requests go through `TrioTransport`: a proxy, ``trust_env`` or the cache
        need httpx's own transports (see `senders`)."""
        return (
            self.http.transport == "trio"
            and self.proxy is None
            and not self.http.trust_env
            and self.cache_dir is None
        )


@attrs.frozen
class FetchedPage:
    """A successfully fetched HTML page; `url` is the final URL after redirects."""

    url: str
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), eq=False)
    """Every response header, lower-case names in the order received (the parsers' `Response`)."""


_FRAMING = frozenset({"content-type", "content-length", "content-encoding"})


def _framing_fields(items: list[tuple[str, str]]) -> dict[str, str]:
    """The Content-Type, -Length and -Encoding of a response's (lower-case name, value)
    pairs, a repeated one joined with ", " as `httpx.Headers.get` joins it: one pass, where
    three lookups in `httpx.Headers` would decode and scan every header three times."""
    found: dict[str, str] = {}
    for name, value in items:
        if name in _FRAMING:
            seen = found.get(name)
            found[name] = value if seen is None else f"{seen}, {value}"
    return found


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme))


def _origin_text(url: httpx.URL) -> str:
    """``scheme://host[:port]`` of `url` (the default port left out), where robots.txt lives."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port is not None else "")


# --- the fetcher -------------------------------------------------------------------------------


def _request_headers(settings: FetchSettings) -> dict[str, str]:
    return {
        **settings.http.headers,
        "user-agent": settings.http.user_agent,
        "accept-encoding": ACCEPT_ENCODING,
    }


class Fetcher:
    """GETs HTML pages through one `Sender` (see `senders`); make one with `Fetcher.open`.

    At most `FetchSettings.max_connections` requests are in flight: a request waits for one of
    that many slots before it starts, and the transport's pool has as many connections, so the
    pool never makes a request wait (waiting for a slot does not count against the request
    timeout; waiting inside the pool would). The sender and its transport are built when the
    first request needs them; connections open as requests need them, so memory grows with
    the connections in use, never with `max_connections`.
    """

    __slots__ = (
        "_cache",
        "_closed",
        "_politeness",
        "_robots",
        "_sender",
        "_settings",
        "_slots",
        "_stack",
        "_tls",
    )

    def __init__(self, settings: FetchSettings, politeness: Manners | None) -> None:
        self._settings = settings
        self._politeness = politeness
        self._sender: Sender | None = None
        self._stack = contextlib.AsyncExitStack()
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self._slots = trio.Semaphore(settings.max_connections)
        self._robots = RobotsCache()
        self._cache: AsyncSqliteStorage | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: FetchSettings | None = None, politeness: Manners | None = None
    ) -> AsyncIterator[Fetcher]:
        """A fetcher whose sender is closed on exit, even when cancelled."""
        fetcher = cls(settings if settings is not None else FetchSettings(), politeness)
        try:
            yield fetcher
        finally:
            fetcher._closed = True
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + _CLOSE_GRACE_SECS
                await fetcher._stack.aclose()

    @property
    def settings(self) -> FetchSettings:
        """The settings in force (the sender's as opened, the rest as last updated)."""
        return self._settings

    def update_settings(self, settings: FetchSettings) -> None:
        """Apply reloaded settings from the next request on; what the sender was built with
        stays as opened."""
        opened = self._settings
        http = attrs.evolve(
            settings.http,
            cookies=opened.http.cookies,
            proxy=opened.http.proxy,
            trust_env=opened.http.trust_env,
            cache=opened.http.cache,
            cache_dir=opened.http.cache_dir,
            cache_ttl_secs=opened.http.cache_ttl_secs,
            transport=opened.http.transport,
        )
        self._settings = attrs.evolve(settings, http=http, concurrency=opened.concurrency)
        if self._sender is not None:
            self._sender.configure(settings.crawl.request_timeout_secs, _request_headers(settings))

    def robots_rules(self, url: str) -> RobotsRules | None:
        """The robots.txt rules read so far for `url`'s origin (None if not read yet)."""
        return self._robots.known(_origin_text(httpx.URL(url)))

    def _tls_context(self) -> ssl.SSLContext:
        """The TLS context of httpcore's transports (`TrioTransport` builds its own), built once."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _open_sender(self) -> Sender:
        if self._closed:
            raise RuntimeError("this Fetcher is closed")
        settings = self._settings
        if settings.cache_dir is not None:
            # hishel (and the SQLite driver it brings) only for a crawl that caches.
            from hishel import AsyncSqliteStorage

            self._cache = AsyncSqliteStorage(
                database_path=Path(settings.cache_dir) / CACHE_FILE,
                default_ttl=settings.http.cache_ttl_secs,
            )
            self._stack.push_async_callback(self._cache.close)
        transport = open_transport(
            own=settings.own_transport,
            connections=settings.max_connections,
            proxy=settings.proxy,
            trust_env=settings.http.trust_env,
            tls=self._tls_context,
            cache=self._cache,
        )
        sender = Sender(
            transport,
            settings.crawl.request_timeout_secs,
            _request_headers(settings),
            dict(settings.http.cookies),
        )
        self._stack.push_async_callback(sender.aclose)
        self._sender = sender
        return sender

    async def get(self, url: str) -> FetchedPage:
        """Fetch an HTML page, following on-site redirects; raise `StageError` on any failure.

        `request_timeout_secs` bounds the time spent on the network for the whole request,
        redirects included (a slow-drip server cannot stretch it); waiting for a connection
        slot or for politeness does not count.
        """
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._slots.acquire()
        try:
            return await self._get(self._sender or self._open_sender(), url)
        finally:
            self._slots.release()

    async def _get(self, client: Sender, url: str) -> FetchedPage:
        settings = self._settings
        remaining = settings.crawl.request_timeout_secs
        with map_http_errors():
            current = parse_url(url)
            origin = _origin(current)
            for _ in range(settings.max_redirects + 1):
                if settings.http.robots_txt:
                    await self._obey_robots(client, current, settings)
                outcome = await self._polite_exchange(client, current, settings, remaining)
                if isinstance(outcome, FetchedPage):
                    return outcome
                target, spent = outcome
                remaining -= spent
                if not settings.crawl.allow_offsite_redirects and _origin(target) != origin:
                    raise StageError(
                        ErrorKind.client_error, f"off-site redirect to {target} refused"
                    )
                current = target
        raise StageError(
            ErrorKind.client_error, f"too many redirects (more than {settings.max_redirects})"
        )

    async def _polite_exchange(
        self,
        client: Sender,
        url: httpx.URL,
        settings: FetchSettings,
        remaining: float,
        *,
        robots: bool = False,
    ) -> FetchedPage | tuple[httpx.URL, float]:
        """One exchange under politeness: the page, or a redirect's target and the network
        time it took (waiting for politeness does not count against the request timeout)."""
        if self._politeness is None:
            started = trio.current_time()
            outcome = await self._exchange(client, url, settings, started + remaining, robots)
        else:
            async with self._politeness.request(url.host):
                started = trio.current_time()
                outcome = await self._exchange(client, url, settings, started + remaining, robots)
        if isinstance(outcome, FetchedPage):
            return outcome
        return outcome, trio.current_time() - started

    async def _obey_robots(self, client: Sender, url: httpx.URL, settings: FetchSettings) -> None:
        """Raise `robots_refused` if `url`'s origin disallows it (reading its robots.txt
        through `client` the first time), or the error of a robots.txt that cannot be read."""

        async def fetch(robots_url: str) -> RobotsRules:
            rules = await self._fetch_robots(client, robots_url, settings)
            delay = rules.crawl_delay(settings.http.user_agent)
            if delay is not None and self._politeness is not None:
                # Origins on one host (http and https, say) share its pace: the larger delay.
                pacer = self._politeness.pacer
                capped = min(delay, settings.http.max_crawl_delay_secs)
                pacer.set_delay(url.host, max(capped, pacer.delay(url.host)))
            return rules

        origin = _origin_text(url)
        # Read once per origin; after that the rules are a dict lookup away (no await).
        rules = self._robots.known(origin) or await self._robots.rules(origin, fetch)
        text = str(url)
        if not rules.allows(text, settings.http.user_agent):
            raise refusal(text, rules)

    async def _fetch_robots(
        self, client: Sender, robots_url: str, settings: FetchSettings
    ) -> RobotsRules:
        """Read a robots.txt, following up to ROBOTS_MAX_REDIRECTS to any origin."""
        remaining = settings.crawl.request_timeout_secs
        current = httpx.URL(robots_url)
        try:
            with map_http_errors():
                for _ in range(ROBOTS_MAX_REDIRECTS + 1):
                    outcome = await self._polite_exchange(
                        client, current, settings, remaining, robots=True
                    )
                    if isinstance(outcome, FetchedPage):
                        return rules_from_answer(robots_url, outcome.status, outcome.body)
                    current, spent = outcome
                    remaining -= spent
        except StageError as error:
            if error.status is not None and error.kind is not ErrorKind.client_error:
                raise  # rules_from_answer's 429/5xx wording already names robots.txt
            raise StageError(
                error.kind,
                f"robots.txt {robots_url} could not be read: {error.message}",
                status=error.status,
                retry_after=error.retry_after,
            ) from error
        return RobotsRules(robots_url, None, note="too many redirects")

    async def _exchange(
        self,
        client: Sender,
        url: httpx.URL,
        settings: FetchSettings,
        deadline: float,
        robots: bool = False,
    ) -> FetchedPage | httpx.URL:
        """One request/response: the page, or the URL a redirect points to.

        With `robots`, any status and content type is an answer (robots.py judges it) and the
        body may be at most ROBOTS_MAX_BYTES."""
        with trio.CancelScope(deadline=deadline):
            # The whole response is read inside this scope (the transport may rely on it).
            response = await client.get(url, deadline)
            try:
                headers = response.headers
                raw = raw_headers(response)
                if len(raw) > settings.max_headers:
                    raise StageError(
                        ErrorKind.client_error,
                        f"too many response headers: {len(raw)} (at most {settings.max_headers})",
                        status=response.status_code,
                    )
                target = client.redirect(response)
                if target is not None:
                    return target
                items = header_items(raw, headers)
                fields = _framing_fields(items)
                content_type = fields.get("content-type", "")
                if robots:
                    if not 200 <= response.status_code < 300:
                        return FetchedPage(str(response.url), response.status_code, b"", "")
                    limit = ROBOTS_MAX_BYTES
                else:
                    status = response.status_code
                    if not 200 <= status < 300:  # (a header lookup is not free: only if needed)
                        error = classify_status(
                            status, headers.get("retry-after"), str(response.url)
                        )
                        if error is not None:
                            raise error
                    media_type = content_type.partition(";")[0].strip().lower()
                    if media_type not in HTML_CONTENT_TYPES:
                        raise StageError(
                            ErrorKind.parse_error,
                            f"not an HTML page: content type {content_type or '(none)'!r}",
                            status=response.status_code,
                        )
                    limit = settings.crawl.max_response_bytes
                length = fields.get("content-length")
                # (A 20-digit length is over any limit, and int() refuses 4,301 digits.)
                if (
                    length is not None
                    and length.isdigit()
                    and (len(length) >= 20 or int(length) > limit)
                ):
                    raise too_large(limit)
                body = BoundedBody(limit, content_codings(fields.get("content-encoding")))
                stream = response.stream
                if isinstance(stream, ResponseStream):  # our transport's: no async generator
                    await stream.read_into(body.feed)
                else:
                    async for chunk in response.aiter_raw():
                        body.feed(chunk)
                return FetchedPage(
                    url=str(response.url),
                    status=response.status_code,
                    body=body.finish(),
                    content_type=content_type,
                    headers=tuple(items),
                )
            finally:
                await response.aclose()
        # Only reached when the deadline cancelled the exchange.
        raise StageError(
            ErrorKind.network_timeout,
            f"no complete response within {settings.crawl.request_timeout_secs} s",
        )
