"""A parser's `Response`: the charset comes from the header, else the document, else UTF-8."""

from __future__ import annotations

import pytest

from trio_crawl.sites import Response

CAFE = "Café £5 — naïve".encode("cp1252")


@pytest.mark.parametrize(
    ("headers", "body", "charset"),
    [
        ((("Content-Type", "text/html; charset=ISO-8859-1"),), b"x", "iso8859-1"),
        ((("content-type", 'text/html; charset="windows-1252"'),), b"x", "cp1252"),
        ((), b'<html><head><meta charset="windows-1252"></head>', "cp1252"),
        ((), b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">', "koi8-r"),
        # The header wins over the document.
        ((("content-type", "text/html; charset=utf-8"),), b'<meta charset="latin-1">', "utf-8"),
        # A charset Python does not know, or none at all: UTF-8.
        ((("content-type", "text/html; charset=no-such"),), b"x", "utf-8"),
        ((("content-type", "text/html"),), b"<p>x</p>", "utf-8"),
    ],
)
def test_the_charset_is_the_headers_else_the_documents_else_utf_8(
    headers: tuple[tuple[str, str], ...], body: bytes, charset: str
) -> None:
    assert Response("http://x.test/", 200, body, headers).charset == charset


def test_text_is_decoded_with_that_charset_and_bad_bytes_cost_one_character() -> None:
    header = (("content-type", "text/html; charset=windows-1252"),)
    assert Response("http://x.test/", 200, CAFE, header).text == "Café £5 — naïve"
    assert Response("http://x.test/", 200, b"ok \xff", ()).text == "ok \ufffd"


def test_header_lookup_is_case_insensitive_and_takes_the_first() -> None:
    response = Response("u", 200, b"", (("X-A", "1"), ("x-a", "2")))
    assert (response.header("x-a"), response.header("X-B")) == ("1", None)
