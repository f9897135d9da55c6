"""Fetching pages over HTTP (httpx on trio), with every failure turned into a `StageError`.

What can go wrong, and the `ErrorKind` it becomes (`classify_exception`, `classify_status` and
the checks in `Fetcher.get`; callers never see a raw httpx exception)::

    transport (httpx, via map_http_errors)
    ├── TimeoutException (connect/read/write/pool)     network_timeout
    ├── the request_timeout_secs deadline passed        network_timeout  (also trio.TooSlowError)
    ├── UnsupportedProtocol, InvalidURL, TooManyRedirects   client_error  (retrying cannot help)
    ├── LocalProtocolError: a request h11 would not send   client_error  (nothing was sent;
    │   (a header value with NUL/CR/LF, a bad name…)                     the same request again
    │                                                                     is refused again)
    └── any other TransportError / DecodingError        network_error
        (ConnectError, ReadError, WriteError, RemoteProtocolError: connection reset, or a body
        cut short — "peer closed connection without sending complete message body")
    status
    ├── 429                                             rate_limited (retry_after from Retry-After)
    ├── 503 with a usable Retry-After                   rate_limited (status and retry_after kept)
    ├── other 5xx (503 without Retry-After too)         server_error (status kept)
    ├── 4xx (404 included)                              client_error (status kept)
    └── 1xx/3xx that is not a followable redirect       client_error (status kept)
    head
    ├── more than max_headers header lines              client_error "too many response headers"
    └── a head over 100 KiB (httpcore's h11 buffer)     network_error (RemoteProtocolError)
    content (decoding.py)
    ├── body over max_response_bytes, on the wire       client_error "response too large: > N bytes"
    │   or decoded (rejected from Content-Length before reading, or as soon as the stream or
    │   its inflated form passes N: gzip and deflate are inflated here, step by bounded step)
    ├── a content-encoding other than gzip/deflate      client_error (br, zstd, compress, …)
    ├── a corrupt or cut-short gzip/deflate stream      network_error
    └── not text/html or application/xhtml+xml          parse_error (content type in the message)
    redirects
    ├── to another origin (scheme, host, port)          client_error "off-site redirect to <url>
    │   while allow_offsite_redirects is off                          refused"
    └── more than max_redirects                         client_error
    robots.txt (robots.py; with robots_txt on, checked before every request and redirect hop)
    ├── the URL is disallowed for our user agent        robots_refused (not sent, not retried)
    └── robots.txt answered 429/5xx or is unreachable   that answer's kind, naming robots.txt

Oversized bodies deliberately add no `ErrorKind`: they are the site's answer, not a transient
fault, so they fall under `client_error`, which no stage retries by default.

Only httpx's public response API is used (status, headers, `aiter_raw`), so the decoding and
the bounds hold on any httpx transport; a body from trio_crawl's own transport is read with
its `ResponseStream.read_into` instead: the same chunks, without an async generator.

The ``[http]`` options (user agent, headers, cookies, proxy, trust_env, the on-disk cache) are
all applied where a shard is built (`_make_client`: an `httpx.AsyncClient`, or on trio_crawl's
own transport the same request without the client, see `senders`) and robots.txt at the
request level, so they hold whatever transport is used.
"""

from __future__ import annotations

import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import httpx
import trio
from hishel import AsyncSqliteStorage

from trio_crawl.config.model import DEFAULT_USER_AGENT
from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.engine.retry import parse_retry_after

from ..transport import TrioTransport
from ..transport.body import ResponseStream
from .decoding import BoundedBody, content_codings, too_large
from .politeness import Politeness
from .robots import (
    ROBOTS_MAX_BYTES,
    ROBOTS_MAX_REDIRECTS,
    RobotsCache,
    RobotsRules,
    refusal,
    rules_from_answer,
)
from .senders import ClientSender, DirectSender, Sender
from .urls import parse_url

HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Media types `Fetcher.get` accepts; anything else is a `parse_error`."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Closing clients is shielded from cancellation (so sockets never leak), but bounded, so a
# wedged close cannot hang the caller's shutdown.
_CLOSE_GRACE_SECS = 5.0
CONNECTIONS_PER_SHARD = 1

CACHE_FILE = "http-cache.db"
"""The SQLite file of the on-disk HTTP cache, inside `FetchSettings.cache_dir`."""

ACCEPT_ENCODING = "gzip, deflate"
"""What we ask for: the codings `decoding` inflates under the size limit (httpx would also offer
br and zstd when their packages are installed, which we refuse)."""


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, got {value!r}")

    return check


def _positive_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value!r}")


@attrs.frozen
class FetchSettings:
    """How `Fetcher` talks HTTP. Defaults follow the `[crawl]`/`[concurrency]` config sections.

    `max_connections` is the total across all `clients` shards; `request_timeout_secs`,
    `max_response_bytes`, `allow_offsite_redirects`, `max_redirects`, `user_agent`, `headers`,
    `robots_txt` and `max_crawl_delay_secs` can be changed live with `Fetcher.update_settings`;
    what the clients are built with (the pool shape, `cookies`, `proxy`, `trust_env`, the
    cache) cannot. `trust_env` lets httpx read proxy settings from the environment; it is off
    so a crawl goes where it is told.
    """

    request_timeout_secs: float = attrs.field(default=30.0, validator=_positive_seconds)
    max_response_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=_at_least(1))
    allow_offsite_redirects: bool = False
    max_redirects: int = attrs.field(default=5, validator=_at_least(0))
    max_connections: int = attrs.field(default=50, validator=_at_least(1))
    max_headers: int = attrs.field(default=100, validator=_at_least(1))
    """Header lines a response may have (CPython's http.client allows 100 too). Their total
    size is bounded by httpcore, which refuses a head over 100 KiB."""
    clients: int | None = attrs.field(default=None)
    """Client shards; None picks one per `CONNECTIONS_PER_SHARD` connections. httpcore checks
    every idle connection of a pool on each request, so small pools are cheaper per request.
    Shards are opened on first use, so a large pool costs nothing until it is busy."""
    user_agent: str = DEFAULT_USER_AGENT
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (the user agent and Accept-Encoding are the fetcher's own)."""
    cookies: tuple[tuple[str, str], ...] = ()
    """Cookies sent to every host (each shard's jar also keeps what servers set)."""
    proxy: str | None = None
    """Every request goes through this proxy URL; None: direct (or the environment's, with
    `trust_env`)."""
    trust_env: bool = False
    robots_txt: bool = True
    """Obey robots.txt: refuse disallowed URLs and pace hosts by their Crawl-delay."""
    max_crawl_delay_secs: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    """The most a Crawl-delay may space one host's requests."""
    cache_dir: str | None = None
    """Keep successful responses in an SQLite cache in this directory (None: no cache)."""
    cache_ttl_secs: float = attrs.field(default=86_400.0, validator=_positive_seconds)
    transport: str = attrs.field(
        default="trio", validator=attrs.validators.in_(("trio", "httpcore"))
    )
    """``trio``: trio_crawl's own `TrioTransport` (one pool, httptools); ``httpcore``: httpx's.
    A proxy, `trust_env` or the cache need httpx's own transports, so they use httpcore."""

    @property
    def own_transport(self) -> bool:
        """Whether requests go through `TrioTransport` (see `transport`)."""
        return (
            self.transport == "trio"
            and self.proxy is None
            and not self.trust_env
            and self.cache_dir is None
        )

    @clients.validator
    def _check_clients(self, attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"clients must be at least 1, got {value!r}")

    @property
    def shard_count(self) -> int:
        """How many httpx clients the connections are spread over: one over `TrioTransport`'s
        own pool, else one per `CONNECTIONS_PER_SHARD` connections (`clients` overrides)."""
        if self.clients is not None:
            return self.clients
        if self.own_transport:
            return 1
        return max(1, -(-self.max_connections // CONNECTIONS_PER_SHARD))


@attrs.frozen
class FetchedPage:
    """A successfully fetched HTML page; `url` is the final URL after redirects."""

    url: str
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), eq=False)
    """Every response header, lower-case names in the order received (the parsers' `Response`)."""


# --- classification: the one place where failures become ErrorKinds ---------------------------


def classify_exception(exc: BaseException) -> StageError | None:
    """The `StageError` for a transport failure, or None if `exc` is not one (a bug stays a bug)."""
    if isinstance(exc, httpx.TimeoutException | trio.TooSlowError):
        return StageError(ErrorKind.network_timeout, f"{type(exc).__name__}: {exc}")
    if isinstance(
        exc,
        httpx.UnsupportedProtocol
        | httpx.InvalidURL
        | httpx.TooManyRedirects
        | httpx.LocalProtocolError,
    ):
        return StageError(ErrorKind.client_error, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        return StageError(ErrorKind.network_error, f"{type(exc).__name__}: {exc}")
    return None


def classify_status(status: int, retry_after: str | None = None) -> StageError | None:
    """The `StageError` for an HTTP status (None for 2xx); `retry_after` is the raw header."""
    if 200 <= status < 300:
        return None
    if status == 429 or status == 503:
        delay = parse_retry_after(retry_after)
        if status == 429 or delay is not None:
            return StageError(
                ErrorKind.rate_limited, f"HTTP {status}", status=status, retry_after=delay
            )
    if status >= 500:
        return StageError(ErrorKind.server_error, f"HTTP {status}", status=status)
    return StageError(ErrorKind.client_error, f"HTTP {status}", status=status)


class map_http_errors:
    """Translate transport exceptions raised inside the ``with`` block into `StageError`s.

    A class rather than a ``contextmanager`` generator: one enters it on every request, and a
    generator-based manager costs a few µs more."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not isinstance(exc, httpx.HTTPError | httpx.InvalidURL | trio.TooSlowError):
            return  # no exception, or not a transport one: it goes on as it is
        error = classify_exception(exc)
        if error is not None:
            raise error from exc


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
        **dict(settings.headers),
        "user-agent": settings.user_agent,
        "accept-encoding": ACCEPT_ENCODING,
    }


def _make_client(
    settings: FetchSettings,
    connections: int,
    tls: Callable[[], ssl.SSLContext],
    cache: AsyncSqliteStorage | None,
) -> Sender:
    """One shard, with every ``[http]`` option that belongs to a client.

    On trio_crawl's own transport that is a `DirectSender` (see `senders` for why it skips
    `httpx.AsyncClient`). A proxy is httpx's own: ``proxy=`` makes the client mount an
    httpcore proxy transport for ``all://``, which takes every request even when a custom
    ``transport=`` is passed, and httpx reads the environment's proxies (`trust_env`) only
    when no ``transport=`` is given. So a custom transport (issue 12) carries no proxied
    request; to proxy through one, it has to do the proxying itself. Likewise the cache:
    `AsyncCacheClient` wraps the transports it builds itself (the direct one and the proxy
    one); a custom transport would have to be wrapped in ``hishel.httpx.AsyncCacheTransport``
    explicitly.
    """
    if settings.own_transport:
        # TrioTransport builds its TLS context when it first meets an https origin.
        transport = TrioTransport(
            max_connections=connections, max_keepalive_connections=connections
        )
        return DirectSender(
            transport,
            settings.request_timeout_secs,
            _request_headers(settings),
            dict(settings.cookies),
        )
    options: dict[str, Any] = {
        "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        "timeout": httpx.Timeout(settings.request_timeout_secs),
        "headers": _request_headers(settings),
        "cookies": dict(settings.cookies),
        "follow_redirects": False,
        "trust_env": settings.trust_env,
        "proxy": settings.proxy,
        "verify": tls(),
    }
    return ClientSender(cache, **options)


def _shard_size(total: int, shards: int, shard: int) -> int:
    """Connections of shard number `shard` when `total` are split over at most `total` shards,
    as evenly as possible (the first ones take the remainder)."""
    base, extra = divmod(total, min(shards, total))
    return base + (1 if shard < extra else 0)


def _shard_sizes(total: int, shards: int) -> list[int]:
    """Every shard's size (see `_shard_size`)."""
    return [_shard_size(total, shards, shard) for shard in range(min(shards, total))]


class Fetcher:
    """GETs HTML pages through a few sharded httpx clients; make one with `Fetcher.open`.

    A single `httpx.AsyncClient` degrades at high concurrency (every request contends for one
    httpcore pool), so requests are spread over `settings.shard_count` shards, or pinned to one
    by a caller's worker `key`. `max_connections` is split between the shards. An unpinned
    request waits for a free connection slot; it takes a slot released by an earlier request
    when there is one (a warm connection), and only otherwise a slot never used before. The
    k-th fresh slot belongs to shard k mod shards, so the first requests land on different
    shards. A shard's client is built when a request first needs it: memory grows with the
    connections in use, never with `max_connections`.
    """

    __slots__ = (
        "_cache",
        "_clients",
        "_closed",
        "_fresh",
        "_politeness",
        "_released",
        "_robots",
        "_settings",
        "_shards",
        "_slots",
        "_stack",
        "_tls",
    )

    def __init__(self, settings: FetchSettings, politeness: Politeness | None) -> None:
        self._settings = settings
        self._politeness = politeness
        self._shards = min(settings.shard_count, settings.max_connections)
        self._clients: dict[int, Sender] = {}
        self._stack = contextlib.AsyncExitStack()
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self._slots = trio.Semaphore(settings.max_connections)
        self._released: deque[int] = deque()
        self._fresh = 0  # slots handed out so far that had never been used
        self._robots = RobotsCache()
        self._cache: AsyncSqliteStorage | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: FetchSettings | None = None, politeness: Politeness | None = None
    ) -> AsyncIterator[Fetcher]:
        """A fetcher whose clients are all closed on exit, even when cancelled."""
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
        """The settings in force (pool shape as opened, the rest as last updated)."""
        return self._settings

    @property
    def shards(self) -> int:
        """How many httpx clients requests are spread over (at most; they open on first use)."""
        return self._shards

    @property
    def open_clients(self) -> int:
        """How many of the shards' clients have been built so far."""
        return len(self._clients)

    def update_settings(self, settings: FetchSettings) -> None:
        """Apply reloaded settings from the next request on; the pool shape stays as opened."""
        opened = self._settings
        self._settings = attrs.evolve(
            settings,
            max_connections=opened.max_connections,
            clients=opened.clients,
            cookies=opened.cookies,
            proxy=opened.proxy,
            trust_env=opened.trust_env,
            cache_dir=opened.cache_dir,
            cache_ttl_secs=opened.cache_ttl_secs,
        )
        for client in self._clients.values():
            client.configure(settings.request_timeout_secs, _request_headers(settings))

    def robots_rules(self, url: str) -> RobotsRules | None:
        """The robots.txt rules read so far for `url`'s origin (None if not read yet)."""
        return self._robots.known(_origin_text(httpx.URL(url)))

    def _tls_context(self) -> ssl.SSLContext:
        """One TLS context for every shard: building one costs ~20 ms, and they are alike."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _client(self, shard: int) -> Sender:
        client = self._clients.get(shard)
        if client is None:
            if self._closed:
                raise RuntimeError("this Fetcher is closed")
            settings = self._settings
            if settings.cache_dir is not None and self._cache is None:
                self._cache = AsyncSqliteStorage(
                    database_path=Path(settings.cache_dir) / CACHE_FILE,
                    default_ttl=settings.cache_ttl_secs,
                )
                self._stack.push_async_callback(self._cache.close)
            size = _shard_size(settings.max_connections, self._shards, shard)
            client = _make_client(settings, size, self._tls_context, self._cache)
            self._stack.push_async_callback(client.aclose)
            self._clients[shard] = client
        return client

    async def get(self, url: str, *, key: int | None = None) -> FetchedPage:
        """Fetch an HTML page, following on-site redirects; raise `StageError` on any failure.

        `request_timeout_secs` bounds the time spent on the network for the whole request,
        redirects included (a slow-drip server cannot stretch it); waiting for politeness
        does not count. `key` pins the request to a shard (e.g. a worker number).
        """
        if key is not None:
            return await self._get(self._client(key % self._shards), url)
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            await self._slots.acquire()
        if self._released:
            shard = self._released.popleft()
        else:
            shard = self._fresh % self._shards
            self._fresh += 1
        try:
            return await self._get(self._client(shard), url)
        finally:
            self._released.append(shard)
            self._slots.release()

    async def _get(self, client: Sender, url: str) -> FetchedPage:
        settings = self._settings
        remaining = settings.request_timeout_secs
        with map_http_errors():
            current = parse_url(url)
            origin = _origin(current)
            for _ in range(settings.max_redirects + 1):
                if settings.robots_txt:
                    await self._obey_robots(client, current, settings)
                outcome = await self._polite_exchange(client, current, settings, remaining)
                if isinstance(outcome, FetchedPage):
                    return outcome
                target, spent = outcome
                remaining -= spent
                if not settings.allow_offsite_redirects and _origin(target) != origin:
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
            delay = rules.crawl_delay(settings.user_agent)
            if delay is not None and self._politeness is not None:
                # Origins on one host (http and https, say) share its pace: the larger delay.
                pacer = self._politeness.pacer
                capped = min(delay, settings.max_crawl_delay_secs)
                pacer.set_delay(url.host, max(capped, pacer.delay(url.host)))
            return rules

        origin = _origin_text(url)
        # Read once per origin; after that the rules are a dict lookup away (no await).
        rules = self._robots.known(origin) or await self._robots.rules(origin, fetch)
        text = str(url)
        if not rules.allows(text, settings.user_agent):
            raise refusal(text, rules)

    async def _fetch_robots(
        self, client: Sender, robots_url: str, settings: FetchSettings
    ) -> RobotsRules:
        """Read a robots.txt, following up to ROBOTS_MAX_REDIRECTS to any origin."""
        remaining = settings.request_timeout_secs
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
                if len(headers) > settings.max_headers:
                    raise StageError(
                        ErrorKind.client_error,
                        f"too many response headers: {len(headers)} (at most "
                        f"{settings.max_headers})",
                        status=response.status_code,
                    )
                target = client.redirect(response)
                if target is not None:
                    return target
                items = headers.multi_items()
                fields = _framing_fields(items)
                content_type = fields.get("content-type", "")
                if robots:
                    if not 200 <= response.status_code < 300:
                        return FetchedPage(str(response.url), response.status_code, b"", "")
                    limit = ROBOTS_MAX_BYTES
                else:
                    status = response.status_code
                    if not 200 <= status < 300:  # (a header lookup is ~2 µs: only if needed)
                        error = classify_status(status, headers.get("retry-after"))
                        if error is not None:
                            raise error
                    media_type = content_type.partition(";")[0].strip().lower()
                    if media_type not in HTML_CONTENT_TYPES:
                        raise StageError(
                            ErrorKind.parse_error,
                            f"not an HTML page: content type {content_type or '(none)'!r}",
                            status=response.status_code,
                        )
                    limit = settings.max_response_bytes
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
            f"no complete response within {settings.request_timeout_secs} s",
        )
