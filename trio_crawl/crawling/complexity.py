"""How deeply a page's elements nest, judged from its bytes before any parser sees them.

An HTML parser's time grows with the square of the nesting depth (the tree builder walks the
open elements for each new one), so a hostile page of a few hundred kilobytes, tens of thousands
of `<div>`s deep, holds whichever thread parses it for seconds or minutes. A page nests at
most as deep as it has opening tags, and every ``<`` not followed by ``/`` is at most one of
them, so counting settles every ordinary page at C speed: its tags against the bound, and only
for a page with more tags than that, its closing tags too (counting ``</`` costs more than
counting ``<``). Only a page with more possible openings than the bound is scanned tag by tag.
The scan over-counts elements a parser closes by itself (an unclosed ``<p>``, ``<li>``), which
makes it refuse too much rather than too little, and only on pages already this large.
"""

from __future__ import annotations

import re

_TAG = re.compile(rb"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
_VOID = frozenset(
    b"area base br col embed hr img input link meta param source track wbr keygen".split()
)


def nesting_over(body: bytes, limit: int) -> int | None:
    """The depth `body` nests to if that is more than `limit`, else None."""
    tags = body.count(b"<")
    if tags <= limit or tags - body.count(b"</") <= limit:
        return None
    depth = deepest = 0
    for match in _TAG.finditer(body):
        closing, name, self_closing = match.groups()
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing and name.lower() not in _VOID:
            depth += 1
            if depth > deepest:
                deepest = depth
    return deepest if deepest > limit else None
