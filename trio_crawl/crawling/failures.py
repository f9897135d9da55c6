"""Where a fetch's failures become `StageError`s: the one place that classifies them.

What can go wrong, and the `ErrorKind` it becomes (`classify_exception`, `classify_status` and
the checks in `http.Fetcher.get`; callers never see a raw httpx exception)::

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
    └── a head over 100 KiB (the transport refuses it)  network_error (RemoteProtocolError)
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
"""

from __future__ import annotations

from types import TracebackType

import httpx
import trio

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.engine.retry import parse_retry_after


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


def classify_status(
    status: int, retry_after: str | None = None, url: str = ""
) -> StageError | None:
    """The `StageError` for an HTTP status (None for 2xx); `retry_after` is the raw header. The
    message names `url`, so that a failure far from its item (planning, say) says where."""
    if 200 <= status < 300:
        return None
    message = f"HTTP {status} at {url}" if url else f"HTTP {status}"
    if status == 429 or status == 503:
        delay = parse_retry_after(retry_after)
        if status == 429 or delay is not None:
            return StageError(ErrorKind.rate_limited, message, status=status, retry_after=delay)
    if status >= 500:
        return StageError(ErrorKind.server_error, message, status=status)
    return StageError(ErrorKind.client_error, message, status=status)


class map_http_errors:
    """Translate transport exceptions raised inside the ``with`` block into `StageError`s.

    A class rather than a ``contextmanager`` generator: one enters it on every request, and a
    generator-based manager costs more."""

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
