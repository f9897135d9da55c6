"""`nesting_over`: the counts that settle an ordinary page agree with the tag-by-tag scan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.crawling import complexity
from trio_crawl.crawling.complexity import nesting_over

PIECES = [b"<div>", b"</div>", b"<p>", b"</p>", b"<br>", b"<img/>", b"<span/>", b"</", b"<", b"x"]


def scanned(body: bytes, limit: int) -> int | None:
    """The scan alone, with no count in front of it: what `nesting_over` must always answer."""
    depth = deepest = 0
    for match in complexity._TAG.finditer(body):
        closing, name, self_closing = match.groups()
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing and name.lower() not in complexity._VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest if deepest > limit else None


@given(st.lists(st.sampled_from(PIECES), max_size=300), st.integers(0, 40))
def test_the_counts_never_change_the_answer_of_the_scan(pieces: list[bytes], limit: int) -> None:
    body = b"".join(pieces)
    assert nesting_over(body, limit) == scanned(body, limit)


class NoScan:
    def finditer(self, body: bytes) -> object:
        raise AssertionError("scanned tag by tag")


def test_a_page_with_more_tags_than_the_bound_but_fewer_openings_is_not_scanned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A benchmark page has more tags than the inline bound (256) but fewer openings: two
    counts settle it, not a scan in Python (which took longer than the parse itself)."""
    page = b"<html><body>" + b"<article><a href=x><h3>m</h3></a></article>" * 80 + b"</body>"
    assert page.count(b"<") > 256
    monkeypatch.setattr(complexity, "_TAG", NoScan())
    assert nesting_over(page, 256) is None
    monkeypatch.undo()
    assert nesting_over(page, 4) == 5  # the scan still finds the depth beyond a lower bound


class CountedBytes(bytes):
    """Bytes that note what is counted in them."""

    counted: list[bytes]

    def count(self, sub: bytes, *bounds: int) -> int:  # type: ignore[override]
        self.counted.append(sub)
        return super().count(sub, *bounds)


def test_a_page_with_fewer_tags_than_the_bound_is_settled_by_one_count() -> None:
    """Every page a crawl parses goes through here: counting its closing tags as well costs
    more than counting its tags, so it is done only for a page with more tags than the bound."""
    page = CountedBytes(b"<html><body>" + b"<p>x</p>" * 100 + b"</body></html>")
    page.counted = []
    assert nesting_over(page, 2000) is None
    assert page.counted == [b"<"]
