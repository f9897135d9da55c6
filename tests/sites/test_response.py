"""A parser's `Response`: the charset comes from the header, else the document, else UTF-8."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trio_crawl.sites import Response
from trio_crawl.sites import response as response_module

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


# A header's charset, the plain way and email.message's way: they must agree wherever the plain
# reading applies. The alphabet holds what either reading treats specially (quotes, escapes,
# RFC 2231 stars, separators, whitespace of every kind) and letters that fold to ASCII under
# Unicode case rules (the long s, the Kelvin sign).
_LONG_S, _KELVIN = "\u017f", "\u212a"
_PIECES = st.sampled_from(
    [
        *["text/html", "charset", "CharSet", f"chaR{_LONG_S}et", "utf-8", "latin-1", "x"],
        *["=", ";", '"', "\\", "'", "*", "*0", " ", "\t", "\n", "\x0b", "/", _KELVIN, "\xe9"],
        *["koi8-r", "utf-8'en'"],
    ]
)
_HEADERS = st.one_of(
    st.lists(_PIECES, max_size=10).map("".join),
    st.tuples(
        st.lists(_PIECES, max_size=4).map("".join),
        st.sampled_from(["; ", ";", ";\t", " ; "]),
        st.sampled_from(["charset", "CHARSET", f"chaR{_LONG_S}et", "charset*", "charset "]),
        st.sampled_from(["=", " =", "= "]),
        st.lists(_PIECES, min_size=1, max_size=3).map("".join),
    ).map("".join),
)


@given(_HEADERS)
@example("charset=koi8-r; charset=utf-8")  # the first parameter can be a charset too
@example(f"text/html; chaR{_LONG_S}et=utf-8")  # not a charset parameter to email.message
@example('text/html; charset="koi8-r"; charset=utf-8')
@settings(max_examples=400)
def test_a_plain_charset_header_reads_as_email_message_reads_it(header: str) -> None:
    plain = response_module._PLAIN_CHARSET.fullmatch(header)
    if plain is not None:
        assert response_module._known(plain.group(1)) == response_module._known(
            response_module.charset_parameter(header)
        )
    assert response_module.charset_of_header.__wrapped__(header) == response_module._known(
        response_module.charset_parameter(header)
    )
