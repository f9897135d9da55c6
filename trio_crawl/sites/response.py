"""What a site's parser is handed: the response as fetched, and its text decoded right.

A page's bytes mean nothing without their charset. The HTTP header says it first
(``Content-Type: text/html; charset=iso-8859-1``); failing that the document may say it in a
``<meta charset>`` or ``<meta http-equiv="Content-Type">`` near its start; failing both, UTF-8
(what HTML5 documents default to in practice). A charset Python does not know falls back the
same way, and undecodable bytes cost one character each, never the page.
"""

from __future__ import annotations

import codecs
import functools
import re

import attrs

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_PLAIN_CHARSET = re.compile(
    r"[A-Za-z0-9!#$%&'*+.^_`|~/ \t-]*;[ \t]*charset=([A-Za-z0-9._:-]+)[ \t]*",
    re.ASCII | re.IGNORECASE,
)
"""A Content-Type whose one parameter is a plain charset token (``text/html; charset=utf-8``,
what nearly every site sends): read as `email.message` reads it, without importing it."""
_SNIFF_BYTES = 4096
"""How far into the document a ``<meta>`` charset is looked for (HTML puts it in the head)."""

DEFAULT_CHARSET = "utf-8"


@functools.lru_cache(maxsize=64)
def charset_of_header(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a codec Python knows.

    Kept per header value: a site sends the same few, and reading one through
    `email.message` is slow enough to show in a crawl's profile when done for every page.
    The plain form is read here instead: importing `email.message` (and the modules it
    imports) is a large share of a parse process's start."""
    if not content_type:
        return None
    plain = _PLAIN_CHARSET.fullmatch(content_type)
    return _known(plain.group(1) if plain else charset_parameter(content_type))


def charset_parameter(content_type: str) -> object:
    """The charset parameter as `email.message` reads it: quoting, RFC 2231, repeated names."""
    from email.message import Message

    message = Message()
    message["content-type"] = content_type
    return message.get_param("charset")


def charset_of_document(body: bytes) -> str | None:
    """The charset a document declares in a ``<meta>`` near its start, if Python knows it."""
    match = _META_CHARSET.search(body[:_SNIFF_BYTES])
    return _known(match.group(1).decode("ascii")) if match else None


def _known(name: object) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return codecs.lookup(name.strip().strip("'\"")).name
    except LookupError:
        return None


@attrs.frozen
class Response:
    """A fetched page: its final `url` (after redirects), `status`, `headers` (lower-case names,
    in the order received) and raw `body`. `text` is the body decoded with `charset`."""

    url: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @functools.cached_property
    def charset(self) -> str:
        """The charset the header names, else the one the document declares, else UTF-8."""
        return (
            charset_of_header(self.header("content-type"))
            or charset_of_document(self.body)
            or DEFAULT_CHARSET
        )

    @functools.cached_property
    def text(self) -> str:
        return self.body.decode(self.charset, errors="replace")
