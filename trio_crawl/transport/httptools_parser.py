"""The httptools (llhttp) response parser, behind the `parsed.ResponseParser` interface, held
to h11's reading of HTTP/1.1.

llhttp is lenient where h11 is strict, and the differences hang or mislead a client: a
``Transfer-Encoding: chunked<TAB>`` is not taken as chunked (the framing comes back as the
body, read until EOF), ``Transfer-Encoding: gzip, chunked`` is only de-chunked, trailing
spaces stay in header values, and a second response in the same read is parsed over the
first. It is also stricter in places (a bare LF ending a line, a duplicate Content-Length of
the same value), where h11 reads the response.

So llhttp reads only the heads whose framing is plain: at most one ``Content-Length`` of
digits, or one ``Transfer-Encoding`` that is exactly ``chunked``, never both. Any other head,
and any head llhttp refuses, is read by h11 instead, from the response's first byte: the reads
fed since `start` are kept (references, not copies) until the head is done, or for a chunked
body until it ends, since llhttp also refuses chunk framing h11 reads (a space after a chunk
extension's ``;``); h11 then reads the body again and what was already given out is dropped.
h11 is the judge of the whole response, so the rare odd response costs h11's time and the
common one llhttp's, and both read it as h11 does. What llhttp cannot be told is checked in the
callbacks: trailing OWS is stripped from values, the ``chunked`` value is lower-cased (as h11
returns it), a message beginning after the response is complete stops the parse and forbids
reuse, and so does a chunked body after a HEAD response.

One difference is left: llhttp skips empty lines between messages without a callback, so an
empty line (and nothing else) after a response may leave the connection reusable, where h11
would not reuse it. That cannot put a later response out of step: the next response's parser
skips the line too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httptools
import httpx

from .framing import MAX_HEAD_BYTES, framed, incomplete_body, persistent, too_large_head
from .parsed import ResponseParser

if TYPE_CHECKING:
    from .h11_parser import H11Parser

_OWS = b" \t"


class _Stop(Exception):
    """Raised from a callback to stop llhttp: the rest of the input is not this response's."""


class _Unusual(Exception):
    """Raised from a callback: the head's framing is not one llhttp reads as h11 does."""


class HttptoolsParser(ResponseParser):
    """llhttp through httptools; its callbacks are this object's ``on_*`` methods.

    A new `httptools.HttpResponseParser` per response (cheap to make) keeps no state across
    responses, and is what lets a HEAD response end at its head: llhttp cannot be told the
    request method. llhttp judges 204/304 and keep-alive itself. It has no end-of-input call,
    so a close-delimited body is ended here: at EOF, a body with neither Content-Length nor
    chunked framing is complete. Once a response is handed to h11 (see the module docstring),
    `_h11` reads the rest of it and its results are copied here after each feed.
    """

    __slots__ = (
        "_body_bytes",
        "_chunked",
        "_framing",
        "_h11",
        "_head",
        "_head_bytes",
        "_informational",
        "_method",
        "_parser",
        "_seen",
    )

    def __init__(self) -> None:
        self._h11: H11Parser | None = None
        self.start(b"GET")

    def start(self, method: bytes) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._method = method
        self._head = method == b"HEAD"
        self._head_bytes = 0
        self._informational = False
        self._framing = 0  # framing headers seen in this head
        self._chunked = False
        self._body_bytes = 0  # body bytes given out, before any turn to h11
        self._seen: list[bytes | bytearray] = []
        self._h11 = None
        self._new_response()

    def feed(self, data: bytes | bytearray) -> None:
        if self._h11 is not None:
            self._h11.feed(data)
            self._copy_h11()
            return
        if not self.head_done or self._chunked:
            self._seen.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A 101 we never asked for: whatever follows is not HTTP/1.1.
            if not self.head_done:
                raise httpx.RemoteProtocolError("unexpected protocol upgrade") from None
            self.complete = True
            self.keep_alive = False
        except httptools.HttpParserError as exc:
            if self.complete:
                self.keep_alive = False  # bytes after a complete response
            elif not self.head_done or self._chunked:
                # An unusual head (_Unusual), or input llhttp refuses: a head, or chunk
                # framing (llhttp allows no space around a chunk extension's ';').
                self._read_by_h11()
                return
            else:
                raise httpx.RemoteProtocolError(f"malformed response: {exc}") from exc
        if not self.head_done:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                raise too_large_head()
        elif self.complete or not self._chunked:
            self._seen = []

    def feed_eof(self) -> None:
        if self._h11 is not None:
            self._h11.feed_eof()
            self._copy_h11()
            return
        if self._ended_at_eof():
            return
        if framed(self.headers):
            raise incomplete_body()
        self.complete = True
        self.keep_alive = False

    def _read_by_h11(self) -> None:
        """Hand the response to h11 from its first byte; of the body it reads again, what was
        given out already is dropped."""
        from .h11_parser import H11Parser  # h11 only for the rare response llhttp refuses

        given = self._body_bytes - sum(map(len, self.body))
        parser = self._h11 = H11Parser()
        parser.start(self._method)
        seen, self._seen = self._seen, []
        while seen and not self.head_done:
            # llhttp skips empty lines before a response (bytes a previous one left behind
            # in a later read); h11 would take them for a missing status line.
            first = seen[0].lstrip(b"\r\n")
            if first:
                seen[0] = first
                break
            del seen[0]
        for data in seen:
            parser.feed(data)
        body = b"".join(parser.body)[given:]
        parser.body = [body] if body else []
        self.body = []
        self._copy_h11()

    def _copy_h11(self) -> None:
        parser = self._h11
        assert parser is not None
        self.status = parser.status
        self.reason = parser.reason
        self.version = parser.version
        self.headers = parser.headers
        self.head_done = parser.head_done
        self.complete = parser.complete
        self.keep_alive = parser.keep_alive
        if parser.body:
            self.body += parser.body
            parser.body = []

    # --- llhttp callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.keep_alive = False  # a second response we never asked for
            raise _Stop

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a chunked body's trailers, ignored as h11 does
        size = len(name)
        # The framing values are judged as llhttp saw them (leading OWS gone, trailing kept).
        if size == 14 and name.lower() == b"content-length":
            if self._framing or not value.isdigit() or len(value) > 18:
                raise _Unusual
            self._framing = 1
        elif size == 17 and name.lower() == b"transfer-encoding":
            if self._framing or value.lower() != b"chunked":
                raise _Unusual
            self._framing = 1
            self._chunked = True
            value = b"chunked"
        elif value and value[-1] in _OWS:
            value = value.rstrip(_OWS)
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            self._informational = True
            self.reason = b""
            self.headers = []
            self._framing = 0
            self._chunked = False
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
            self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._head:
            if self._chunked and self.status not in (204, 304):
                # llhttp read a chunked body (even an empty one) after the HEAD response
                self.keep_alive = False
            return
        self.complete = True
        self.keep_alive = self._parser.should_keep_alive()
