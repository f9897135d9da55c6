"""HTTP/1.1 response parsers behind one small interface: httptools (llhttp) or h11.

A parser reads one response at a time: `start` it with the request's method (a HEAD response
has no body whatever its headers say), `feed` it what the socket gave, `feed_eof` when the
server closed. Results are plain attributes, read by the transport after each feed: cheaper
than events or callbacks crossing the interface, which matters because the parser sits on the
hot path of every page. Malformed input raises `httpx.RemoteProtocolError`; so does a head
still unfinished after `MAX_HEAD_BYTES` of input (checked per read, as h11 does, so a head
that ends within the read crossing the limit passes).

Both parsers keep 1xx informational heads out of the result and judge persistence the same
way: HTTP/1.1 unless ``Connection: close``; HTTP/1.0 only with ``Connection: keep-alive``; never
after a close-delimited body or bytes beyond the end of the response.
"""

from __future__ import annotations

from typing import Literal, Protocol

import h11
import httptools
import httpx

ParserName = Literal["httptools", "h11"]

MAX_HEAD_BYTES = 100 * 1024
"""The largest response head accepted (httpcore allows h11 as much)."""


class ResponseParser(Protocol):
    """What the transport reads after each `feed`.

    `body` holds the chunks parsed since the transport last replaced it with a new list;
    `keep_alive` is meaningful once `complete`.
    """

    status: int
    reason: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    head_done: bool
    complete: bool
    keep_alive: bool
    body: list[bytes]

    def start(self, method: bytes) -> None:
        """Expect the response to a request of `method`."""

    def feed(self, data: bytes | bytearray) -> None:
        """Parse bytes from the server (never empty: that is `feed_eof`)."""

    def feed_eof(self) -> None:
        """The server closed: the end of a close-delimited body, or an error."""


def make_parser(name: ParserName) -> ResponseParser:
    """A parser for one connection's responses."""
    if name == "httptools":
        return HttptoolsParser()
    if name == "h11":
        return H11Parser()
    raise ValueError(f"unknown parser {name!r} (expected 'httptools' or 'h11')")


def _incomplete_body() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        "server disconnected without sending a complete response (body cut short)"
    )


def _too_large_head() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD_BYTES} bytes")


def _has_token(headers: list[tuple[bytes, bytes]], name: bytes, token: bytes) -> bool:
    """Whether a `name` header lists `token` (case-insensitive)."""
    for key, value in headers:
        if key.lower() == name and token in (part.strip() for part in value.lower().split(b",")):
            return True
    return False


def _framed(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the body's end is announced (Content-Length or chunked), not the connection's."""
    for key, value in headers:
        name = key.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            return True
    return False


def _persistent(version: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """HTTP/1.1 persistence from the head alone (used where the framing has no say)."""
    if version == b"HTTP/1.1":
        return not _has_token(headers, b"connection", b"close")
    return _has_token(headers, b"connection", b"keep-alive")


class HttptoolsParser:
    """llhttp through httptools; its callbacks are this object's ``on_*`` methods.

    A new `httptools.HttpResponseParser` per response (about 0.3 µs) keeps no state across
    responses, and is what lets a HEAD response end at its head: llhttp cannot be told the
    request method. llhttp judges 204/304 and keep-alive itself. It has no end-of-input call,
    so a close-delimited body is ended here: at EOF, a body with neither Content-Length nor
    chunked framing is complete.
    """

    __slots__ = (
        "_head",
        "_head_bytes",
        "_informational",
        "_parser",
        "body",
        "complete",
        "head_done",
        "headers",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    status: int
    reason: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    head_done: bool
    complete: bool
    keep_alive: bool
    body: list[bytes]

    def __init__(self) -> None:
        self.start(b"GET")

    def start(self, method: bytes) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._head = method == b"HEAD"
        self._head_bytes = 0
        self._informational = False
        self.status = 0
        self.reason = b""
        self.version = b"HTTP/1.1"
        self.headers = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body = []

    def feed(self, data: bytes | bytearray) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A 101 we never asked for: whatever follows is not HTTP/1.1.
            if not self.head_done:
                raise httpx.RemoteProtocolError("unexpected protocol upgrade") from None
            self.complete = True
            self.keep_alive = False
        except httptools.HttpParserError as exc:
            if not self.complete:
                raise httpx.RemoteProtocolError(f"malformed response: {exc}") from exc
            self.keep_alive = False  # garbage after a complete response
        if not self.head_done:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                raise _too_large_head()

    def feed_eof(self) -> None:
        if self.complete:
            self.keep_alive = False
            return
        if not self.head_done:
            raise httpx.RemoteProtocolError(
                "server disconnected without sending a complete response"
            )
        if _framed(self.headers):
            raise _incomplete_body()
        self.complete = True
        self.keep_alive = False

    # --- llhttp callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.keep_alive = False  # a second response we never asked for

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # after the head: a chunked body's trailers, ignored as h11 does
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            self._informational = True
            self.reason = b""
            self.headers = []
            return
        self.status = status
        self.version = b"HTTP/" + parser.get_http_version().encode()
        self.head_done = True
        if self._head:
            self.complete = True
            self.keep_alive = _persistent(self.version, self.headers)

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.keep_alive = False  # a body after a HEAD response
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._head:
            return
        self.complete = True
        self.keep_alive = self._parser.should_keep_alive()


class H11Parser:
    """h11's client state machine, fed the response bytes only.

    h11 reads a response only after it has seen a request, and needs its method (HEAD). The
    transport writes the real request itself, so h11 is shown a stand-in with the same method
    and no body; its output bytes are discarded. One `h11.Connection` per TCP connection,
    cycled between responses.
    """

    __slots__ = (
        "_conn",
        "body",
        "complete",
        "head_done",
        "headers",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    status: int
    reason: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    head_done: bool
    complete: bool
    keep_alive: bool
    body: list[bytes]

    def __init__(self) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.status = 0
        self.reason = b""
        self.version = b"HTTP/1.1"
        self.headers = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body = []

    def start(self, method: bytes) -> None:
        conn = self._conn
        if conn.their_state is h11.DONE:
            conn.start_next_cycle()
        elif conn.our_state is not h11.IDLE:
            # h11 closes after every HTTP/1.0 response; we kept a keep-alive one open.
            conn = self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        conn.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"-")]))
        conn.send(h11.EndOfMessage())
        self.status = 0
        self.reason = b""
        self.version = b"HTTP/1.1"
        self.headers = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body = []

    def feed(self, data: bytes | bytearray) -> None:
        self._conn.receive_data(data if type(data) is bytes else bytes(data))
        self._events()

    def feed_eof(self) -> None:
        if self.complete:
            self.keep_alive = False
            return
        if not self.head_done:
            raise httpx.RemoteProtocolError(
                "server disconnected without sending a complete response"
            )
        self._conn.receive_data(b"")
        self._events()
        if not self.complete:
            raise _incomplete_body()
        self.keep_alive = False

    def _events(self) -> None:
        conn = self._conn
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self.head_done and "complete message body" in str(exc):
                    raise _incomplete_body() from exc
                if "buffer too long" in str(exc):
                    raise _too_large_head() from exc
                raise httpx.RemoteProtocolError(f"malformed response: {exc}") from exc
            if isinstance(event, h11.Data):
                data = event.data
                self.body.append(data if type(data) is bytes else bytes(data))
            elif isinstance(event, h11.Response):
                self.status = event.status_code
                self.reason = bytes(event.reason)
                self.version = b"HTTP/" + bytes(event.http_version)
                self.headers = list(event.headers.raw_items())
                self.head_done = True
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                if conn.trailing_data[0]:
                    self.keep_alive = False
                elif self.version == b"HTTP/1.0":
                    self.keep_alive = _framed(self.headers) and _persistent(
                        self.version, self.headers
                    )
                else:
                    self.keep_alive = conn.their_state is h11.DONE
                return
            elif isinstance(event, h11.InformationalResponse):
                continue
            else:  # NEED_DATA, PAUSED or ConnectionClosed
                return
