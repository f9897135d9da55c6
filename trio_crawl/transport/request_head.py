"""The bytes of a request head, refused unless h11 would send them, and what the transport must
know about the request's body."""

from __future__ import annotations

import re
from typing import NamedTuple

import httpx

# RFC 9110's grammar as h11 writes it (h11/_abnf.py): a token; a field value is visible bytes
# (or obs-text) with spaces or tabs inside, none at either end; a target is visible ASCII.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_FIELD_VALUE = rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?"
_FIELDS = re.compile(rb"(?:" + _TOKEN + b": " + _FIELD_VALUE + rb"\r\n)*")
_IS_TOKEN = re.compile(_TOKEN).fullmatch
_IS_FIELD_VALUE = re.compile(_FIELD_VALUE).fullmatch
_IS_TARGET = re.compile(rb"[\x21-\x7e]+").fullmatch
_METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"})

KNOWN_FIELDS_MAX = 256
"""Header blocks a transport remembers as checked (then it forgets them all and starts over)."""


class RequestHead(NamedTuple):
    """A serialised request head and the facts about the request read while building it (a
    tuple: one is built per request)."""

    data: bytes
    has_body: bool
    """Content-Length or Transfer-Encoding was set: a body follows the head."""
    chunked: bool
    """The body is sent in chunked framing (httpx sets this for bodies of unknown length)."""
    close: bool
    """The request said ``Connection: close``: the connection is not reused after it."""
    content_length: int | None
    """The body's announced length (None when chunked or absent): it must be exactly that."""


class _Fields(NamedTuple):
    """A header block as sent, and what it says about the body and the connection."""

    data: bytes
    has_body: bool
    chunked: bool
    close: bool
    length: bytes | None


KnownFields = dict[tuple[tuple[bytes, bytes], ...], _Fields]
"""Header blocks already checked, by their (name, value) lines (see `request_head`)."""


def request_head(request: httpx.Request, known: KnownFields) -> RequestHead:
    """Serialise `request`'s head: its method, ``raw_path`` and headers exactly as httpx set them.

    Whatever h11 would refuse to send is refused with `httpx.LocalProtocolError` before a
    byte is written: a method that is not a token, a target with spaces or control bytes, a
    header name that is not a token, a value with NUL, CR, LF or spaces at its ends (a CR or
    LF would let a value smuggle a header or a request), a Content-Length that is not one
    number, a Transfer-Encoding other than ``chunked``.

    The headers are checked as one block, by one match in C. `known` (the caller's, bounded
    by `KNOWN_FIELDS_MAX`) keeps each block checked, with what it says, under its lines: a
    crawler sends the same headers to an origin again and again, and looking the lines up
    costs less than joining, reading and matching them again.
    """
    raw = request.headers.raw
    target = request.url.raw_path
    method = request.method.encode("ascii")
    lines = tuple(raw)
    fields = known.get(lines)
    if fields is None:
        fields = _fields(raw)
        if fields is None:
            raise _refusal(method, target, raw)
        if len(known) >= KNOWN_FIELDS_MAX:
            known.clear()
        known[lines] = fields
    if (method not in _METHODS and not _IS_TOKEN(method)) or not _IS_TARGET(target):
        raise _refusal(method, target, raw)
    length, chunked = fields.length, fields.chunked
    content_length = None
    if length is not None and not chunked:
        if not length.isdigit():
            raise httpx.LocalProtocolError(f"bad Content-Length {length!r}")
        content_length = int(length)
    data = b"".join((method, b" ", target, b" HTTP/1.1\r\n", fields.data, b"\r\n"))
    return RequestHead(data, fields.has_body, chunked, fields.close, content_length)


def _fields(raw: list[tuple[bytes, bytes]]) -> _Fields | None:
    """The block of header lines and what it says, or None when h11 would not send it."""
    parts: list[bytes] = []
    has_body = chunked = close = False
    length: bytes | None = None
    for name, value in raw:
        parts += (name, b": ", value, b"\r\n")
        lowered = name.lower()
        if lowered == b"content-length":
            has_body = True
            if length is not None and value != length:
                raise httpx.LocalProtocolError("conflicting Content-Length headers")
            length = value
        elif lowered == b"transfer-encoding":
            if chunked or value.lower() != b"chunked":
                raise httpx.LocalProtocolError(
                    f"only Transfer-Encoding: chunked is sent, not {value!r}"
                )
            has_body = chunked = True
        elif lowered == b"connection":
            close = close or b"close" in value.lower()
    data = b"".join(parts)
    # The match alone would pass a value that carries a whole header line ("a\r\nX: 1"):
    # the count of line ends says each part kept to its own line.
    if _FIELDS.fullmatch(data) is None or data.count(b"\n") != len(raw):
        return None
    return _Fields(data, has_body, chunked, close, length)


def _refusal(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> httpx.LocalProtocolError:
    """Why the head did not match (found again part by part: this is the rare path)."""
    if not _IS_TOKEN(method):
        return httpx.LocalProtocolError(f"illegal method {method!r}")
    if not _IS_TARGET(target):
        return httpx.LocalProtocolError(f"illegal request target {target!r}")
    for name, value in headers:
        if not _IS_TOKEN(name):
            return httpx.LocalProtocolError(f"illegal header name {name!r}")
        if not _IS_FIELD_VALUE(value):
            return httpx.LocalProtocolError(f"illegal header value {value!r} in {name!r}")
    return httpx.LocalProtocolError("illegal request head")
