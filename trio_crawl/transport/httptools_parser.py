"""The httptools (llhttp) response parser, behind the `parsers.ResponseParser` interface."""

from __future__ import annotations

import httptools
import httpx

from .framing import MAX_HEAD_BYTES, framed, incomplete_body, persistent, too_large_head


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
                raise too_large_head()

    def feed_eof(self) -> None:
        if self.complete:
            self.keep_alive = False
            return
        if not self.head_done:
            raise httpx.RemoteProtocolError(
                "server disconnected without sending a complete response"
            )
        if framed(self.headers):
            raise incomplete_body()
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
            self.keep_alive = persistent(self.version, self.headers)

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
