"""The two response parsers agree, however the bytes are split into reads."""

from __future__ import annotations

import itertools

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.transport.framing import framed, persistent
from trio_crawl.transport.parsers import ParserName, make_parser

PARSERS: list[ParserName] = ["httptools", "h11"]

RESPONSES = [
    (b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello"),
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    ),
    (b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n"),
    (b"GET", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
    (b"GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"),
    (b"GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
    (b"GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
    (b"GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    (b"GET", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"),
    (b"GET", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"),
    (b"GET", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nuntil eof"),
    # Read by h11 behind the httptools adapter: framing llhttp misreads or refuses.
    (b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
    (b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
    (b"GET", b"HTTP/1.1 200 OK\nX-A: 1 \nContent-Length: 2\n\nok"),
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3\r\nabc\r\n2; q="x"\r\nde\r\n0\r\n\r\n',
    ),
]


def parse(name: ParserName, method: bytes, pieces: list[bytes]) -> tuple[object, ...]:
    parser = make_parser(name)
    parser.start(method)
    for piece in pieces:
        parser.feed(piece)
    if not parser.complete:
        parser.feed_eof()
    headers = [(k.lower(), v) for k, v in parser.headers]
    return (parser.status, parser.version, headers, b"".join(parser.body), parser.keep_alive)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@given(
    case=st.sampled_from(RESPONSES),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
)
def test_both_parsers_read_the_same_response_from_any_split(
    case: tuple[bytes, bytes], cuts: list[int]
) -> None:
    method, data = case
    whole = parse("httptools", method, [data])
    for name in PARSERS:
        assert parse(name, method, split(data, cuts)) == whole


@pytest.mark.parametrize("name", PARSERS)
def test_a_parser_reads_consecutive_responses_on_one_connection(name: ParserName) -> None:
    parser = make_parser(name)
    for method, data in RESPONSES[:6]:
        parser.start(method)
        parser.feed(data)
        assert parser.complete and parser.keep_alive


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ],
)
def test_eof_inside_a_framed_body_is_a_protocol_error(name: ParserName, data: bytes) -> None:
    parser = make_parser(name)
    parser.start(b"GET")
    parser.feed(data)
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        parser.feed_eof()


@pytest.mark.parametrize("name", PARSERS)
def test_bytes_after_a_complete_response_forbid_reuse(name: ParserName) -> None:
    parser = make_parser(name)
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE")
    assert parser.complete
    assert not parser.keep_alive


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [
        (b"HTTP/1.1", [], True),
        (b"HTTP/1.1", [(b"Connection", b"Close")], False),
        (b"HTTP/1.1", [(b"connection", b"upgrade, close")], False),
        (b"HTTP/1.0", [], False),
        (b"HTTP/1.0", [(b"Connection", b"Keep-Alive")], True),
        (b"HTTP/1.0", [(b"x-connection", b"keep-alive")], False),
    ],
)
def test_persistence_follows_version_and_connection_tokens(
    version: bytes, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert persistent(version, headers) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], False),
        ([(b"Content-Length", b"0")], True),
        ([(b"Transfer-Encoding", b"gzip, Chunked")], True),
        ([(b"Transfer-Encoding", b"gzip")], False),
    ],
)
def test_a_body_is_framed_by_length_or_chunking(
    headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert framed(headers) is expected


@pytest.mark.parametrize("name", PARSERS)
def test_chunk_framing_llhttp_refuses_mid_body_is_read_on_without_repeating_the_body(
    name: ParserName,
) -> None:
    parser = make_parser(name)
    parser.start(b"GET")
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    taken = b"".join(parser.body)  # the transport hands these on before the rest arrives
    parser.body = []
    parser.feed(b"2; ext=1\r\nde\r\n")
    parser.feed(b"0\r\n\r\n")
    assert taken + b"".join(parser.body) == b"abcde"
    assert parser.complete and parser.keep_alive


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_what_follows_a_head_response_forbids_reuse_and_changes_nothing(
    name: ParserName, data: bytes
) -> None:
    parser = make_parser(name)
    parser.start(b"HEAD")
    parser.feed(data)
    assert (parser.status, parser.reason, parser.complete) == (200, b"OK", True)
    assert not parser.keep_alive
