"""HTTP/1.1 response parsers behind one small interface: httptools (llhttp) or h11.

The interface is `parsed.ResponseParser` and the choice is here; the two live in
`httptools_parser` and `h11_parser`, sharing `framing`.

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

from typing import Literal

from .framing import MAX_HEAD_BYTES as MAX_HEAD_BYTES
from .httptools_parser import HttptoolsParser
from .parsed import ResponseParser as ResponseParser

ParserName = Literal["httptools", "h11"]


def make_parser(name: ParserName) -> ResponseParser:
    """A parser for one connection's responses."""
    if name == "httptools":
        return HttptoolsParser()
    if name == "h11":
        from .h11_parser import H11Parser  # loaded only for a crawl that asks for it

        return H11Parser()
    raise ValueError(f"unknown parser {name!r} (expected 'httptools' or 'h11')")
