"""`parse_url`: the `httpx.URL` of a crawl's URL, without httpx parsing it from scratch.

``httpx.URL(text)`` validates and normalises every part of the text each time: ~12 µs for a
detail page's URL, and in a benchmark crawl ~11 % of the crawl thread's time (py-spy --gil,
``benchmarks/results/latest.md``), one parse per page. A crawl's URLs are nearly all alike:
a handful of origins, and paths and queries made only of characters httpx leaves as they are.
So `parse_url` lets httpx parse each origin (``scheme://host:port``) once and keeps what it
made of it (the lower-cased host, the default port dropped, an IPv4 address checked); a URL
whose path and query need no change is put together from that and the text itself, in ~2 µs.
Anything else (user info, a fragment, IPv6, ``.`` segments, characters httpx would escape, a
lone ``%``) goes to ``httpx.URL`` unchanged, as does everything if this httpx's URL is not
built the way this module expects (checked once, at import).

The result is an ordinary `httpx.URL`, equal to ``httpx.URL(text)``: the tests compare the two
over generated URLs, attribute by attribute.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

_CHARS = r"A-Za-z0-9\-._~!$&'()*+,;=:@/"  # unreserved, sub-delims, ':', '@', '/': never escaped
_ESCAPE = r"%[0-9A-Fa-f]{2}"
_SIMPLE = re.compile(
    rf"(https?://[A-Za-z0-9.\-]+(?::[0-9]{{1,5}})?)"  # origin: httpx parses it (once)
    rf"((?:/(?:[{_CHARS}]|{_ESCAPE})*)?)"  # path: kept as it is
    rf"(?:\?((?:[{_CHARS}?]|{_ESCAPE})*))?",  # query: kept as it is
    re.ASCII,
)
_MAX_LENGTH = 65_536  # httpx refuses longer URLs
_MAX_ORIGINS = 1024


class _Origins:
    """What httpx made of each origin seen, as the parts of its parsed form."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, str, int | None]] = {}

    def parts(self, origin: str) -> tuple[str, str, int | None]:
        known = self._known.get(origin)
        if known is None:
            reference = httpx.URL(origin + "/")._uri_reference  # raises httpx.InvalidURL
            if reference.userinfo or reference.path != "/":  # not the plain origin it looked
                raise _NotSimple
            known = (reference.scheme, reference.host, reference.port)
            if len(self._known) >= _MAX_ORIGINS:
                self._known.clear()
            self._known[origin] = known
        return known


class _NotSimple(Exception):
    pass


_ORIGINS = _Origins()
_ParseResult: Any = None  # httpx's parsed form, when this httpx builds URLs as expected


def parse_url(text: str) -> httpx.URL:
    """``httpx.URL(text)``, cheaply when `text` is a plain http(s) URL (see the module)."""
    if _ParseResult is not None and len(text) <= _MAX_LENGTH:
        match = _SIMPLE.fullmatch(text)
        if match is not None:
            origin, path, query = match.groups()
            if "/." not in path:  # else httpx may drop "." and ".." segments
                try:
                    scheme, host, port = _ORIGINS.parts(origin)
                except _NotSimple:
                    return httpx.URL(text)
                url: httpx.URL = httpx.URL.__new__(httpx.URL)
                url._uri_reference = _ParseResult(scheme, "", host, port, path, query, None)
                return url
    return httpx.URL(text)


def _expected_build() -> Any:
    """httpx's parsed-form class, if a URL built from it is the URL httpx parses."""
    try:
        reference = httpx.URL("http://check.invalid:8080/a?b")._uri_reference
        kind = type(reference)
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = kind("http", "", "check.invalid", 8080, "/a", "b", None)
        if url == httpx.URL("http://check.invalid:8080/a?b") and url.raw_path == b"/a?b":
            return kind
    except Exception:
        pass
    return None


_ParseResult = _expected_build()
