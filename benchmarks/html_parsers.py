"""Per-page HTML parse cost on our own pages: lxml (what the sites use) against selectolax
(Lexbor, C). A script, not a test: it prints µs per page, best of 5 rounds.

    .venv/bin/python benchmarks/html_parsers.py [--pages 300]

Two things are timed for each parser: building the tree alone, and the whole read the Matter
site does (`MatterCatalogue.parse_list`/`parse_detail` on lxml; the same selectors and field
extraction on selectolax, written here only to measure — the shipped parser stays on lxml
unless the faster one passes every fixture).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from lxml import etree

from trio_crawl.demo import DemoCatalogue
from trio_crawl.demo.markup import render_detail_page, render_list_page
from trio_crawl.sites import MatterCatalogue

BASE = "http://127.0.0.1:8000"


def pages(count: int) -> tuple[list[bytes], list[bytes]]:
    catalogue = DemoCatalogue(products=count * 12, seed=1)
    lists = [
        render_list_page(BASE, catalogue.page(n), n, catalogue.last_page).encode()
        for n in range(1, min(count, catalogue.last_page) + 1)
    ]
    details = [
        render_detail_page(BASE, product).encode()
        for n in range(1, 1 + max(1, count // 12))
        for product in catalogue.page(n)
    ][:count]
    return lists, details


def best_of(rounds: int, work: Callable[[], object], items: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best / items * 1e6


def selectolax_list(html: bytes) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    cards = tree.css(
        "div.post-feed article.product.type-product,"
        " .wp-block-crown-blocks-product-index article.product"
    )
    urls = []
    for card in cards:
        link = card.css_first("a[href*='/csa_product/']")
        if link is not None:
            urls.append(link.attributes.get("href"))
        for part in ("h2", "p.entry-company", "p.entry-meta"):
            node = card.css_first(part)
            if node is not None:
                node.text(strip=True)
    numbers = [
        node.text(strip=True) for node in tree.css("a.page-numbers, span.page-numbers.current")
    ]
    return len(urls) + len(numbers)


def selectolax_detail(html: bytes) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    found = 0
    for node in tree.css("h1.entry-title, p.entry-company, h6.entry-category"):
        node.text(strip=True)
        found += 1
    for row in tree.css("div.entry-product-details li.item, table.product-certificates-table tr"):
        label = row.css_first("span.label, th")
        value = row.css_first("span.value, td")
        if label is not None and value is not None:
            label.text(strip=True)
            value.text(strip=True)
            found += 1
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args(argv)
    lists, details = pages(args.pages)
    site = MatterCatalogue(BASE)
    url = f"{BASE}/csa-iot_products/"
    rows = [
        ("lxml tree, list page", lambda: [etree.HTML(p.decode()) for p in lists], len(lists)),
        ("lxml tree, detail page", lambda: [etree.HTML(p.decode()) for p in details], len(details)),
        (
            "trio_crawl parse_list (lxml)",
            lambda: [site.parse_list(p, url) for p in lists],
            len(lists),
        ),
        (
            "trio_crawl parse_detail (lxml)",
            lambda: [site.parse_detail(p, url) for p in details],
            len(details),
        ),
    ]
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        print("selectolax is not installed: pip install selectolax")
    else:
        rows += [
            (
                "selectolax tree, list page",
                lambda: [LexborHTMLParser(p) for p in lists],
                len(lists),
            ),
            (
                "selectolax tree, detail page",
                lambda: [LexborHTMLParser(p) for p in details],
                len(details),
            ),
            ("selectolax list read", lambda: [selectolax_list(p) for p in lists], len(lists)),
            (
                "selectolax detail read",
                lambda: [selectolax_detail(p) for p in details],
                len(details),
            ),
        ]
    sizes = sum(map(len, lists)) // len(lists), sum(map(len, details)) // len(details)
    print(
        f"{len(lists)} list pages (~{sizes[0]:,} B), {len(details)} detail pages (~{sizes[1]:,} B)"
    )
    for name, work, items in rows:
        print(f"{name:34s} {best_of(5, work, items):8.1f} µs/page")


if __name__ == "__main__":
    main()
