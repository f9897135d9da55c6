"""What the head of a response says about its framing and persistence, for both parsers.

Pure functions over the raw header list (names in any case), and the errors the parsers share.
"""

from __future__ import annotations

import httpx

MAX_HEAD_BYTES = 100 * 1024
"""The largest response head accepted (httpcore allows h11 as much)."""


def incomplete_body() -> httpx.RemoteProtocolError:
    """The server closed inside a body whose length was announced."""
    # httpcore's (h11's) wording, which the crawler's messages and tests already know.
    return httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def too_large_head() -> httpx.RemoteProtocolError:
    """The head went on past `MAX_HEAD_BYTES`."""
    return httpx.RemoteProtocolError(f"response head larger than {MAX_HEAD_BYTES} bytes")


def has_token(headers: list[tuple[bytes, bytes]], name: bytes, token: bytes) -> bool:
    """Whether a `name` header lists `token` (case-insensitive)."""
    for key, value in headers:
        if key.lower() == name and token in (part.strip() for part in value.lower().split(b",")):
            return True
    return False


def framed(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the body's end is announced (Content-Length or chunked), not the connection's."""
    for key, value in headers:
        name = key.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            return True
    return False


def persistent(version: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """HTTP/1.1 persistence from the head alone (used where the framing has no say)."""
    if version == b"HTTP/1.1":
        return not has_token(headers, b"connection", b"close")
    return has_token(headers, b"connection", b"keep-alive")
