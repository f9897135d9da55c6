"""Small lxml helpers every site's parser needs, typed for mypy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from lxml import etree


def elements(result: object) -> list[etree._Element]:
    """A CSS selector's result: always an element list (this narrows lxml's XPath union)."""
    assert isinstance(result, list)
    return result


def text(element: etree._Element) -> str:
    """The element's text with entities decoded and whitespace collapsed."""
    if len(element):
        # Parsing from str makes every text node a str (lxml's stubs also allow bytes).
        found = "".join(cast("Iterator[str]", element.itertext()))
    else:
        found = element.text or ""
    return " ".join(found.split())
