"""Per-page HTML parse cost on our own pages: the shipped Matter parser (selectolax's Lexbor
backend) against the lxml + cssselect parser it replaced. A script, not a test: it prints µs
per page, best of `--rounds`.

    .venv/bin/python benchmarks/html_parsers.py [--pages 300] [--rounds 5]

Two things are timed for each parser: building the tree alone, and the whole read the Matter
site does (`MatterCatalogue.parse_list`/`parse_detail`, shipped, on Lexbor; the same methods
as they were on lxml, kept in `benchmarks/matter_lxml.py`). Before timing, both parsers read
every page and must agree, so the figures compare like with like.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from lxml import etree
from matter_lxml import LxmlMatterCatalogue
from selectolax.lexbor import LexborHTMLParser

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


def check_agreement(
    shipped: MatterCatalogue, old: MatterCatalogue, lists: list[bytes], details: list[bytes]
) -> None:
    """Both parsers must read every page the same, or the timings compare different work."""
    url = f"{BASE}/csa-iot_products/"
    for page in lists:
        assert shipped.parse_list(page, url) == old.parse_list(page, url)
    for page in details:
        assert shipped.parse_detail(page, url) == old.parse_detail(page, url)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    lists, details = pages(args.pages)
    shipped, old = MatterCatalogue(BASE), LxmlMatterCatalogue(BASE)
    check_agreement(shipped, old, lists, details)
    url = f"{BASE}/csa-iot_products/"
    rows: list[tuple[str, Callable[[], object], int]] = [
        ("lxml tree, list page", lambda: [etree.HTML(p.decode()) for p in lists], len(lists)),
        ("lxml tree, detail page", lambda: [etree.HTML(p.decode()) for p in details], len(details)),
        (
            "Lexbor tree, list page",
            lambda: [LexborHTMLParser(p.decode()) for p in lists],
            len(lists),
        ),
        (
            "Lexbor tree, detail page",
            lambda: [LexborHTMLParser(p.decode()) for p in details],
            len(details),
        ),
        ("parse_list, old (lxml)", lambda: [old.parse_list(p, url) for p in lists], len(lists)),
        (
            "parse_detail, old (lxml)",
            lambda: [old.parse_detail(p, url) for p in details],
            len(details),
        ),
        (
            "parse_list, shipped (Lexbor)",
            lambda: [shipped.parse_list(p, url) for p in lists],
            len(lists),
        ),
        (
            "parse_detail, shipped (Lexbor)",
            lambda: [shipped.parse_detail(p, url) for p in details],
            len(details),
        ),
    ]
    sizes = sum(map(len, lists)) // len(lists), sum(map(len, details)) // len(details)
    print(
        f"{len(lists)} list pages (~{sizes[0]:,} B), {len(details)} detail pages (~{sizes[1]:,} B)"
    )
    for name, work, items in rows:
        print(f"{name:34s} {best_of(args.rounds, work, items):8.1f} µs/page")


if __name__ == "__main__":
    main()
