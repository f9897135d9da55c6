"""Fetching pages over HTTP (httpx on trio), with every failure turned into a `StageError`.

What can go wrong, and the `ErrorKind` it becomes (`classify_exception`, `classify_status` and
the checks in `Fetcher.get`; callers never see a raw httpx exception)::

    transport (httpx, via map_http_errors)
    ├── TimeoutException (connect/read/write/pool)     network_timeout
    ├── the request_timeout_secs deadline passed        network_timeout  (also trio.TooSlowError)
    ├── UnsupportedProtocol, InvalidURL, TooManyRedirects   client_error  (retrying cannot help)
    └── any other TransportError / DecodingError        network_error
        (ConnectError, ReadError, WriteError, RemoteProtocolError: connection reset, or a body
        cut short — "peer closed connection without sending complete message body")
    status
    ├── 429                                             rate_limited (retry_after from Retry-After)
    ├── 503 with a usable Retry-After                   rate_limited (status and retry_after kept)
    ├── other 5xx (503 without Retry-After too)         server_error (status kept)
    ├── 4xx (404 included)                              client_error (status kept)
    └── 1xx/3xx that is not a followable redirect       client_error (status kept)
    content
    ├── body over max_response_bytes                    client_error "response too large: > N bytes"
    │   (rejected from Content-Length before reading, or as soon as the stream passes N)
    └── not text/html or application/xhtml+xml          parse_error (content type in the message)
    redirects
    ├── to another origin (scheme, host, port)          client_error "off-site redirect to <url>
    │   while allow_offsite_redirects is off                          refused"
    └── more than max_redirects                         client_error

Oversized bodies deliberately add no `ErrorKind`: they are the site's answer, not a transient
fault, so they fall under `client_error`, which no stage retries by default.
"""

from __future__ import annotations

import contextlib
import math
import ssl
from collections.abc import AsyncIterator, Callable, Iterator

import attrs
import httpx
import trio

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.engine.retry import parse_retry_after

from .politeness import Politeness

HTML_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
"""Media types `Fetcher.get` accepts; anything else is a `parse_error`."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Closing clients is shielded from cancellation (so sockets never leak), but bounded, so a
# wedged close cannot hang the caller's shutdown.
_CLOSE_GRACE_SECS = 5.0
CONNECTIONS_PER_SHARD = 1


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
    `max_response_bytes`, `allow_offsite_redirects`, `max_redirects` and `user_agent` can be
    changed live with `Fetcher.update_settings`, the pool shape cannot. `trust_env` lets httpx
    read proxy settings from the environment; it is off so a crawl goes where it is told.
    """

    request_timeout_secs: float = attrs.field(default=30.0, validator=_positive_seconds)
    max_response_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=_at_least(1))
    allow_offsite_redirects: bool = False
    max_redirects: int = attrs.field(default=5, validator=_at_least(0))
    max_connections: int = attrs.field(default=50, validator=_at_least(1))
    clients: int | None = attrs.field(default=None)
    """Client shards; None picks one per `CONNECTIONS_PER_SHARD` connections. httpcore checks
    every idle connection of a pool on each request, so small pools are cheaper per request."""
    user_agent: str = "trio-crawl/0.1"
    trust_env: bool = False

    @clients.validator
    def _check_clients(self, attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError(f"clients must be at least 1, got {value!r}")

    @property
    def shard_count(self) -> int:
        """How many httpx clients the connections are spread over."""
        if self.clients is not None:
            return self.clients
        return max(1, -(-self.max_connections // CONNECTIONS_PER_SHARD))


@attrs.frozen
class FetchedPage:
    """A successfully fetched HTML page; `url` is the final URL after redirects."""

    url: str
    status: int
    body: bytes
    content_type: str


# --- classification: the one place where failures become ErrorKinds ---------------------------


def classify_exception(exc: BaseException) -> StageError | None:
    """The `StageError` for a transport failure, or None if `exc` is not one (a bug stays a bug)."""
    if isinstance(exc, httpx.TimeoutException | trio.TooSlowError):
        return StageError(ErrorKind.network_timeout, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.TooManyRedirects):
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


@contextlib.contextmanager
def map_http_errors() -> Iterator[None]:
    """Translate transport exceptions raised inside the block into `StageError`s."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL, trio.TooSlowError) as exc:
        error = classify_exception(exc)
        if error is None:
            raise
        raise error from exc


def _too_large(limit: int) -> StageError:
    return StageError(ErrorKind.client_error, f"response too large: > {limit} bytes")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme))


# --- the fetcher -------------------------------------------------------------------------------


def _make_client(
    settings: FetchSettings, connections: int, tls: ssl.SSLContext
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=tls,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(settings.request_timeout_secs),
        headers={"user-agent": settings.user_agent},
        follow_redirects=False,
        trust_env=settings.trust_env,
    )


def _shard_sizes(total: int, shards: int) -> list[int]:
    """Split `total` connections over at most `total` shards, as evenly as possible."""
    shards = min(shards, total)
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


class Fetcher:
    """GETs HTML pages through a few sharded httpx clients; make one with `Fetcher.open`.

    A single `httpx.AsyncClient` degrades at high concurrency (every request contends for one
    httpcore pool), so requests are spread over `settings.shard_count` shards, or pinned to one
    by a caller's worker `key`. `max_connections` is split between the shards, and an unpinned
    request waits for a free connection slot and takes the shard it belongs to, so no shard
    queues requests while another sits idle.
    """

    __slots__ = ("_clients", "_free", "_politeness", "_release", "_settings")

    def __init__(
        self,
        settings: FetchSettings,
        clients: list[httpx.AsyncClient],
        politeness: Politeness | None,
        sizes: list[int] | None = None,
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._politeness = politeness
        self._release, self._free = trio.open_memory_channel[int](math.inf)
        sizes = sizes if sizes is not None else [1] * len(clients)
        # Interleave the slots, so that the first requests land on different shards.
        for depth in range(max(sizes, default=0)):
            for shard, size in enumerate(sizes):
                if depth < size:
                    self._release.send_nowait(shard)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, settings: FetchSettings | None = None, politeness: Politeness | None = None
    ) -> AsyncIterator[Fetcher]:
        """Open the client shards; they are closed on exit, even when cancelled."""
        settings = settings if settings is not None else FetchSettings()
        stack = contextlib.AsyncExitStack()
        try:
            # One TLS context for every shard: building one costs ~20 ms, and they are alike.
            tls = ssl.create_default_context()
            clients = []
            sizes = _shard_sizes(settings.max_connections, settings.shard_count)
            for size in sizes:
                client = _make_client(settings, size, tls)
                stack.push_async_callback(client.aclose)
                clients.append(client)
            yield cls(settings, clients, politeness, sizes)
        finally:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + _CLOSE_GRACE_SECS
                await stack.aclose()

    @property
    def settings(self) -> FetchSettings:
        """The settings in force (pool shape as opened, the rest as last updated)."""
        return self._settings

    @property
    def shards(self) -> int:
        """How many httpx clients requests are spread over."""
        return len(self._clients)

    def update_settings(self, settings: FetchSettings) -> None:
        """Apply reloaded settings from the next request on; the pool shape stays as opened."""
        self._settings = attrs.evolve(
            settings,
            max_connections=self._settings.max_connections,
            clients=self._settings.clients,
            trust_env=self._settings.trust_env,
        )
        for client in self._clients:
            client.timeout = httpx.Timeout(settings.request_timeout_secs)
            client.headers["user-agent"] = settings.user_agent

    async def get(self, url: str, *, key: int | None = None) -> FetchedPage:
        """Fetch an HTML page, following on-site redirects; raise `StageError` on any failure.

        `request_timeout_secs` bounds the time spent on the network for the whole request,
        redirects included (a slow-drip server cannot stretch it); waiting for politeness
        does not count. `key` pins the request to a shard (e.g. a worker number).
        """
        if key is not None:
            return await self._get(self._clients[key % len(self._clients)], url)
        try:
            shard = self._free.receive_nowait()
        except trio.WouldBlock:
            shard = await self._free.receive()
        try:
            return await self._get(self._clients[shard], url)
        finally:
            self._release.send_nowait(shard)

    async def _get(self, client: httpx.AsyncClient, url: str) -> FetchedPage:
        settings = self._settings
        remaining = settings.request_timeout_secs
        with map_http_errors():
            current = httpx.URL(url)
            origin = _origin(current)
            for _ in range(settings.max_redirects + 1):
                if self._politeness is None:
                    started = trio.current_time()
                    outcome = await self._exchange(client, current, settings, started + remaining)
                else:
                    async with self._politeness.request(current.host):
                        started = trio.current_time()
                        outcome = await self._exchange(
                            client, current, settings, started + remaining
                        )
                if isinstance(outcome, FetchedPage):
                    return outcome
                remaining -= trio.current_time() - started
                if not settings.allow_offsite_redirects and _origin(outcome) != origin:
                    raise StageError(
                        ErrorKind.client_error, f"off-site redirect to {outcome} refused"
                    )
                current = outcome
        raise StageError(
            ErrorKind.client_error, f"too many redirects (more than {settings.max_redirects})"
        )

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        settings: FetchSettings,
        deadline: float,
    ) -> FetchedPage | httpx.URL:
        """One request/response: the page, or the URL a redirect points to."""
        with trio.CancelScope(deadline=deadline):
            async with client.stream("GET", url) as response:
                if response.next_request is not None:
                    return response.next_request.url
                error = classify_status(response.status_code, response.headers.get("retry-after"))
                if error is not None:
                    raise error
                content_type = response.headers.get("content-type", "")
                media_type = content_type.partition(";")[0].strip().lower()
                if media_type not in HTML_CONTENT_TYPES:
                    raise StageError(
                        ErrorKind.parse_error,
                        f"not an HTML page: content type {content_type or '(none)'!r}",
                        status=response.status_code,
                    )
                limit = settings.max_response_bytes
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise _too_large(limit)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    chunks.append(chunk)
                return FetchedPage(
                    url=str(response.url),
                    status=response.status_code,
                    body=b"".join(chunks),
                    content_type=content_type,
                )
        # Only reached when the deadline cancelled the exchange.
        raise StageError(
            ErrorKind.network_timeout,
            f"no complete response within {settings.request_timeout_secs} s",
        )
