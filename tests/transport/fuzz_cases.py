"""Seeded random HTTP/1.1 exchanges for the differential fuzz (`test_fuzz`): pure functions, no
I/O, so a failing seed can be printed and replayed.

`response_case(seed)` is what a server sends to one request: valid and invalid framing
(Content-Length right, short, long, duplicated, conflicting or malformed; chunked with
extensions, trailers, odd hex and bad sizes; ``Transfer-Encoding`` values h11 refuses; both
at once; close-delimited), 1xx heads before it, HEAD, 204/304 claiming a body, OWS around
every value, bare-LF line ends, HTTP/1.0, and bytes after the end. Each case says whether the
server must close after it (a body that ends at EOF, a response cut short or framed so badly
that a client may wait for more) and whether it sent bytes beyond the response's end as h11
frames it.

`request_case(seed)` is a request a client is asked to send, valid or not (a method with a
space or control byte, a header name with ``:`` or a space, NUL/CR/LF/VT or edge spaces in a
value, a body longer or shorter than its Content-Length).
"""

from __future__ import annotations

import random

import attrs

_EOL = b"\r\n"


@attrs.frozen
class ResponseCase:
    seed: int
    method: str
    data: bytes
    close_after: bool
    """The server closes once `data` is sent (else it waits for the next request)."""
    extra: bool
    """`data` goes on past the end of the response (h11's reading): reuse is unsafe."""
    blank_after: bool
    """All that follows the response is one empty line (CRLF)."""
    version: bytes
    notes: tuple[str, ...]
    """What the generator chose, for a failure message."""


def _ows(rng: random.Random) -> bytes:
    return rng.choice([b"", b"", b"", b" ", b"\t", b" \t ", b"  "])


def _header(rng: random.Random, name: bytes, value: bytes, eol: bytes, spaced: bool) -> bytes:
    if spaced:
        return name + b":" + _ows(rng) + value + _ows(rng) + eol
    return name + b": " + value + eol


_OTHER_HEADERS = [
    (b"Content-Type", b"text/html; charset=utf-8"),
    (b"X-Thing", b"a b\tc"),
    (b"Set-Cookie", b"fuzz=1; Path=/"),
    (b"Cache-Control", b"no-cache"),
    (b"Date", b"Mon, 07 Dec 2026 17:00:00 GMT"),
    (b"X-Empty", b""),
    (b"X-Obs-Text", b"caf\xe9"),
    (b"Vary", b"Accept-Encoding"),
]


def _chunked(rng: random.Random, body: bytes, eol: bytes, notes: list[str]) -> tuple[bytes, bool]:
    """`body` in chunked framing (sometimes broken); True if the break leaves it incomplete or
    invalid (the server must close after it)."""
    out = []
    broken = False
    position = 0
    while position < len(body):
        size = rng.randint(1, max(1, len(body) - position))
        piece = body[position : position + size]
        position += size
        hex_size = b"%x" % size
        style = rng.random()
        if style < 0.15:
            hex_size = hex_size.upper()
        elif style < 0.25:
            hex_size = b"00" + hex_size
        extension = rng.choice([b"", b"", b"", b";name=value", b'; q="quoted"', b";flag"])
        out.append(hex_size + extension + eol + piece + eol)
    last = b"0" + rng.choice([b"", b"", b";end=1"]) + eol
    trailers = b"".join(
        _header(rng, name, value, eol, False)
        for name, value in rng.sample(
            [(b"X-Checksum", b"1234"), (b"Expires", b"0"), (b"X-Trailer", b"t")],
            k=rng.choice([0, 0, 1, 2]),
        )
    )
    out.append(last + trailers + eol)
    roll = rng.random()
    if roll < 0.06:
        notes.append("chunked: bad hex size")
        out.insert(0, b"zz" + eol)
        broken = True
    elif roll < 0.12:
        notes.append("chunked: a size larger than its data, then EOF")
        out = [b"%x" % (len(body) + 10) + eol + body]
        broken = True
    elif roll < 0.18:
        notes.append("chunked: no last chunk, then EOF")
        out = out[:-1]
        broken = True
    return b"".join(out), broken


def response_case(seed: int) -> ResponseCase:
    rng = random.Random(seed)
    notes: list[str] = []
    method = "HEAD" if rng.random() < 0.15 else "GET"
    version = b"HTTP/1.0" if rng.random() < 0.1 else b"HTTP/1.1"
    eol = b"\n" if rng.random() < 0.05 else _EOL
    spaced = rng.random() < 0.4  # OWS around every value
    close_after = False
    extra = False
    data = b""
    if version == b"HTTP/1.1" and rng.random() < 0.1:
        informational = rng.choice([b"100 Continue", b"102 Processing", b"103 Early Hints"])
        link = _header(rng, b"Link", b"</a.css>; rel=preload", eol, spaced)
        data += b"HTTP/1.1 " + informational + eol + (link if rng.random() < 0.5 else b"") + eol
        notes.append(f"informational {informational!r}")
    status = rng.choice([200, 200, 200, 200, 201, 204, 206, 301, 304, 404, 500, 503])
    reason = rng.choice([b"OK", b"Whatever", b"", b"Two  words", b"caf\xe9", b"trailing "])
    status_line = version + b" %d" % status
    if reason or rng.random() < 0.5:
        status_line += b" " + reason
    head = [status_line + eol]
    headers = rng.sample(_OTHER_HEADERS, k=rng.randint(0, 4))
    connection = rng.choice([None, None, None, b"close", b"keep-alive", b"Keep-Alive"])
    if connection is not None:
        headers.append((b"Connection", connection))
    body = rng.randbytes(rng.choice([0, 1, 7, 60, 600]))
    no_body = method == "HEAD" or status in (204, 304)
    framing = rng.choices(
        ["length", "chunked", "close", "bad length", "bad coding", "both"],
        weights=[40, 25, 12, 9, 8, 6],
    )[0]
    notes.append(f"{method} {status_line!r} framing={framing}")
    payload = body
    if framing == "length":
        value = b"%d" % len(body)
        roll = rng.random()
        if roll < 0.08:
            headers.append((b"Content-Length", value))  # the same length twice
            notes.append("Content-Length twice, same value")
        elif roll < 0.13:
            value = value + b", " + value
            notes.append("Content-Length list of one value")
        elif roll < 0.18:
            value = b"000" + value
            notes.append("Content-Length with leading zeros")
        elif roll < 0.28 and body:
            value = b"%d" % (len(body) + 5)
            close_after = not no_body
            notes.append("Content-Length longer than the body, then EOF")
        elif roll < 0.38 and body:
            value = b"%d" % (len(body) - 1)
            extra = not no_body
            notes.append("Content-Length shorter than the body")
        headers.append((b"Content-Length", value))
    elif framing == "bad length":
        value = rng.choice([b"5x", b"-1", b"", b"1 2", b"+5", b"0x10", b"5, 6"])
        headers.append((b"Content-Length", value))
        if rng.random() < 0.5:
            headers.append((b"Content-Length", b"%d" % (len(body) + 1)))
        close_after = True
        notes.append(f"bad Content-Length {value!r}")
    elif framing in ("chunked", "bad coding", "both"):
        if framing == "bad coding":
            coding = rng.choice(
                [b"gzip, chunked", b"chunked, gzip", b"identity", b"gzip", b"chunked, chunked"]
            )
            headers.append((b"Transfer-Encoding", coding))
            if rng.random() < 0.3:
                headers.append((b"Transfer-Encoding", b"chunked"))
            close_after = True
        else:
            coding = rng.choice([b"chunked", b"chunked", b"chunked", b"Chunked", b"CHUNKED"])
            headers.append((b"Transfer-Encoding", coding))
            if rng.random() < 0.1:
                headers.append((b"Transfer-Encoding", b"chunked"))  # twice: h11 refuses
                close_after = True
            if framing == "both":
                headers.append((b"Content-Length", rng.choice([b"3", b"%d" % len(body), b"x"])))
                close_after = True
        notes.append(f"Transfer-Encoding {coding!r}")
        payload, broken = _chunked(rng, body, eol, notes)
        close_after = close_after or broken
    else:  # close-delimited
        close_after = not no_body
    rng.shuffle(headers)
    head += [_header(rng, name, value, eol, spaced) for name, value in headers]
    data += b"".join(head) + eol
    if no_body:
        if payload and rng.random() < 0.5:
            data += payload  # a body the status or the method says is not there
            extra = True
            notes.append("a body after a bodyless response")
    else:
        data += payload
    if version == b"HTTP/1.0" or connection == b"close":
        close_after = True
    if not close_after and rng.random() < 0.15:
        close_after = True
        notes.append("EOF after the response")
    blank_after = False
    if not close_after and rng.random() < 0.15:
        after = rng.choice(
            [b"garbage\r\n", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", b"\r\n"]
        )
        data += after
        blank_after = after == b"\r\n" and not extra
        extra = True
        notes.append(f"{after!r} after the end")
    return ResponseCase(seed, method, data, close_after, extra, blank_after, version, tuple(notes))


@attrs.frozen
class RequestCase:
    seed: int
    method: str
    headers: tuple[tuple[bytes, bytes], ...]
    content: bytes | None
    notes: tuple[str, ...]


_GOOD_VALUES = [b"1", b"a b", b"text/html, */*;q=0.8", b"caf\xe9", b"x\ty", b"", b"a\x01b"]
_BAD_VALUES = [b"a\x00b", b"a\rb", b"a\nb", b"a\r\nX-Smuggled: 1", b" a", b"a ", b"a\x0bb", b"\t"]
_GOOD_NAMES = [b"X-Note", b"Accept-Language", b"x_under", b"X.Dot", b"X~!#$%&'*+^`|"]
_BAD_NAMES = [b"X:Note", b"X Note", b"X\tNote", b"X\x00Note", b"(X)", b"X@Y", b"X/Y"]


def request_case(seed: int) -> RequestCase:
    rng = random.Random(seed)
    notes: list[str] = []
    method = rng.choice(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "M-SEARCH"])
    if rng.random() < 0.1:
        method = rng.choice(["GET /X", "GE\tT", "G(T", "GET\x00", "G@T"])
        notes.append(f"bad method {method!r}")
    headers: list[tuple[bytes, bytes]] = []
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(_GOOD_NAMES)
        value = rng.choice(_GOOD_VALUES)
        if rng.random() < 0.12:
            name = rng.choice(_BAD_NAMES)
            notes.append(f"bad name {name!r}")
        if rng.random() < 0.12:
            value = rng.choice(_BAD_VALUES)
            notes.append(f"bad value {value!r}")
        headers.append((name, value))
    content: bytes | None = None
    if method in ("POST", "PUT", "PATCH") or rng.random() < 0.1:
        content = rng.randbytes(rng.choice([0, 3, 40]))
        roll = rng.random()
        if roll < 0.15:
            headers.append((b"Content-Length", b"%d" % (len(content) + 2)))
            notes.append("body shorter than its Content-Length")
        elif roll < 0.3 and content:
            headers.append((b"Content-Length", b"%d" % (len(content) - 1)))
            notes.append("body longer than its Content-Length")
    return RequestCase(seed, method, tuple(headers), content, tuple(notes))
