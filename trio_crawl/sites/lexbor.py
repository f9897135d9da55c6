"""How the sites read an HTML tree: selectolax's Lexbor backend (an HTML5 parser in C), with the
readings lxml gave, which the Matter parser was written against.

What the move kept from lxml, on purpose: class tokens match case-sensitively (see `css`), a
valueless attribute reads as "" (see `attribute`), text is every descendant text node joined
with whitespace collapsed (comments excluded), bytes are decoded as UTF-8 whatever the page
claims, and a blank or comment-only document is "empty". What changed: Lexbor builds the HTML5
tree a browser would, so badly broken markup may nest differently than libxml2 made it, and a
form feed separates class names (as HTML says; the old XPath saw one token).

Selectors are CSS strings; each call parses into a tree of its own, and the CSS engine is one
per thread (`engine`), so nothing is shared between threads.
"""

from __future__ import annotations

import re
import threading
from typing import Final

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

from ..errors import ErrorKind, StageError

_DOCUMENT_TAG: Final = re.compile(r"<(?:html|head|body)[\s/>]", re.ASCII | re.I)
_CLASS_SELECTOR: Final = re.compile(r"\.(-?[A-Za-z_][\w-]*)")


def css(selector: str) -> str:
    """`selector` with each ``.name`` spelled ``[class~="name"]``.

    In a document without a DOCTYPE (quirks mode) Lexbor matches class selectors ignoring case,
    as browsers do; lxml's translation to XPath never did. The attribute form is case-sensitive
    in every mode, so `div.post-feed` still does not match `<div class="Post-Feed">`.
    """
    return _CLASS_SELECTOR.sub(r'[class~="\1"]', selector)


def document(html: bytes | str, url: str) -> LexborHTMLParser:
    if isinstance(html, bytes):
        # The site serves UTF-8; a stray bad byte should cost one character, not the page.
        # Decoding here, not in Lexbor, keeps Python's replacement rules for bad bytes.
        html = html.decode("utf-8", errors="replace")
    # A str is parsed as the characters it holds: no <meta charset> or XML declaration in it
    # can re-decode it (Lexbor reads `<?xml ...?>` as a bogus comment).
    tree = LexborHTMLParser(html)
    if is_empty(tree, html):
        raise StageError(ErrorKind.parse_error, f"{url}: empty document")
    return tree


def is_empty(tree: LexborHTMLParser, html: str) -> bool:
    """Whether the document is blank, only comments, a DOCTYPE or an XML declaration: those
    lxml gave no root for. Lexbor always builds `html`, `head` and `body`, so look inside them;
    a page that spells out `<html>` (or `<head>`, `<body>`) with nothing in it got a root from
    lxml, and so goes on to the "wrong shape" errors as before."""
    holds_nothing = all(part is None or part.child is None for part in (tree.head, tree.body))
    return holds_nothing and _DOCUMENT_TAG.search(html) is None


def find(tree: LexborHTMLParser, selector: str) -> list[LexborNode]:
    """What `selector` matches in the body, in document order; a node matched by several
    selectors of the list comes once for each (Lexbor's way: only alternatives naming the same
    tag can repeat a node).

    The HTML5 parser moves every element the head may not hold (a `div`, `p`, `li` …) into
    the body, so leaving out the head's elements loses nothing and shortens every search.
    """
    body = tree.body
    return [] if body is None else engine().find(selector, body)


_ENGINES: Final = threading.local()


def engine() -> LexborCSSSelector:
    """This thread's CSS engine.

    `LexborHTMLParser.css` creates an engine per parser on first use, which cost as much as the
    rest of a detail page's extraction. An engine holds no document, so
    one serves every page; it does hold state during a search, so each thread gets its own.
    """
    engine: LexborCSSSelector | None = getattr(_ENGINES, "engine", None)
    if engine is None:
        # selectolax's stub leaves this `__init__` unannotated.
        engine = _ENGINES.engine = LexborCSSSelector()  # type: ignore[no-untyped-call]
    return engine


def text(node: LexborNode) -> str:
    """The element's text with entities decoded and whitespace collapsed: every descendant
    text node (comments excluded), as lxml's `itertext()` read it. Lexbor's own
    `textContent` (`text_lexbor`) reads the same text nodes as `text()` at half the cost."""
    return " ".join(node.text_lexbor().split())


def attribute(node: LexborNode, name: str) -> str | None:
    """Attribute `name`, None when absent and "" when present without a value, as lxml
    reported it (selectolax's `attributes` says None for both)."""
    return node.attrs.sget(name, None)


def classes(node: LexborNode) -> list[str]:
    """The class tokens as lxml's parser read them: split on any Unicode whitespace (a
    U+00A0 separates here, not in a CSS class selector), which is why the tests of a row's
    or card's inner elements stay in Python rather than in the page's selector. A valueless
    attribute (None from `attributes`) holds no class, like an absent one."""
    return (node.attributes.get("class") or "").split()
