"""The bytes of a request head, and what the transport must know about the request's body."""

from __future__ import annotations

from typing import NamedTuple

import httpx


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


def request_head(request: httpx.Request) -> RequestHead:
    """Serialise `request`'s head: its method, ``raw_path`` and headers exactly as httpx set them.

    A CR or LF inside a header (which would let a value smuggle a second header or request)
    is refused with `httpx.LocalProtocolError`; counting them in the finished head is cheaper
    than checking each name and value.
    """
    raw = request.headers.raw
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    has_body = chunked = close = False
    for name, value in raw:
        parts += (name, b": ", value, b"\r\n")
        lowered = name.lower()
        if lowered == b"content-length":
            has_body = True
        elif lowered == b"transfer-encoding":
            has_body = True
            chunked = chunked or b"chunked" in value.lower()
        elif lowered == b"connection":
            close = close or b"close" in value.lower()
    parts.append(b"\r\n")
    data = b"".join(parts)
    lines = len(raw) + 2
    if data.count(b"\n") != lines or data.count(b"\r") != lines:
        raise httpx.LocalProtocolError("CR or LF in the request line or a header")
    return RequestHead(data, has_body, chunked, close)
