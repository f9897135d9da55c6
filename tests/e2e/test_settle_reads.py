"""The settle check re-reads every list page at the end of a run, but parses only the pages
that came back changed (`crawling.list_reads`): an unchanged catalogue costs the fetches, not
the parses, and a change is still found."""

from __future__ import annotations

import collections
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import crawl
from trio_crawl.crawling import listing_spool
from trio_crawl.crawling.list_reads import Fingerprints, fingerprint
from trio_crawl.demo import DemoCatalogue
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.response import Response
from trio_crawl.stores import SqliteStore

from .conftest import crawl_config, db_path, demo_server


class CountingParses(MatterCatalogue):
    """The Matter catalogue, counting its list-page parses by URL (pages parse in the crawl's
    thread under a MockClock: no parse process)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.list_parses: collections.Counter[str] = collections.Counter()

    def parse_list(self, response: Any, url: str | None = None) -> Any:
        self.list_parses[response.url if url is None else url] += 1
        return super().parse_list(response) if url is None else super().parse_list(response, url)


async def test_an_unchanged_catalogue_is_read_twice_but_each_list_page_parsed_once(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=300, seed=9)  # 25 pages
    async with demo_server(catalogue) as server, SqliteStore.open(db_path(tmp_path)) as store:
        site = CountingParses(server.base_url)
        summary = await crawl(crawl_config(), site=site, store=store)
        list_requests = server.stats.list_pages
    assert summary.status == "completed", summary.reason
    assert summary.products_saved == 300
    # Every list page was fetched at the start and again by the settle check …
    assert list_requests >= 2 * 25
    # … but parsed only the first time: the second reading came back byte for byte the same.
    # (The status check's look past the end, at page 26, is no page of the catalogue: it is
    # parsed each time.)
    parses = [site.list_parses[site.list_url(page)] for page in range(1, 26)]
    assert parses == [1] * 25


async def test_the_settle_check_keeps_unchanged_pages_as_stored_not_pickled_again(
    tmp_path: Path, lazy_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list pages wait pickled in the listing spool; the reading again copies a page that
    came back as it was from the first reading's spool as stored: a page is pickled once a run,
    and unpickled for the planning and its batch, not for the settle check."""
    counts: collections.Counter[str] = collections.Counter()

    def dumps(value: Any, protocol: int) -> bytes:
        counts["dumps"] += 1
        return pickle.dumps(value, protocol=protocol)

    def loads(blob: bytes) -> Any:
        counts["loads"] += 1
        return pickle.loads(blob)

    counting = types.SimpleNamespace(dumps=dumps, loads=loads, HIGHEST_PROTOCOL=5)
    monkeypatch.setattr(listing_spool, "pickle", counting)
    catalogue = DemoCatalogue(products=300, seed=9)  # 25 pages
    async with demo_server(catalogue) as server, SqliteStore.open(db_path(tmp_path)) as store:
        summary = await crawl(crawl_config(), site=MatterCatalogue(server.base_url), store=store)
    assert summary.status == "completed", summary.reason
    assert summary.products_saved == 300
    # Once each, but for the two or three pages the status check reads again (kept as objects,
    # as the status check reads them); before, every page again (50 and 125).
    assert counts["dumps"] <= 25 + 3
    # Read back to check the listing, to relist, to plan and to make each batch's jobs.
    assert counts["loads"] <= 4 * 25 + 3


async def test_a_page_changed_during_the_crawl_is_parsed_again_and_keeps_it_from_completed(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=300, seed=9)
    async with demo_server(catalogue) as server, SqliteStore.open(db_path(tmp_path)) as store:
        site = CountingParses(server.base_url)
        seen = 0

        def change_at_the_40th_detail(path: str) -> None:
            nonlocal seen
            if "/csa_product/" in path:
                seen += 1
                if seen == 40:  # one product out, one in, both on page 5: the total is the same
                    serials = catalogue.serials()
                    catalogue.delist([serials[-55]])
                    catalogue.insert(len(serials) - 53, 1)

        server.on_request = change_at_the_40th_detail
        summary = await crawl(crawl_config(), site=site, store=store)
    assert summary.status == "partial", summary.reason
    assert "show other products than they did" in summary.reason, summary.reason
    parses = [site.list_parses[site.list_url(page)] for page in range(1, 26)]
    assert parses == [1] * 4 + [2] + [1] * 20  # page 5 changed: parsed again


def test_the_fingerprint_sees_what_a_parse_sees_and_not_the_date() -> None:
    url = "http://127.0.0.1:8000/csa-iot_products/page/2/?"
    head = (("content-type", "text/html; charset=utf-8"), ("date", "Mon, 07 Dec 2026 20:00:00"))
    page = Response(url, 200, b"<html>twelve cards</html>", head)
    same = fingerprint(page)
    later = (head[0], ("date", "Mon, 07 Dec 2026 20:05:00"))
    assert fingerprint(Response(url, 200, page.body, later)) == same
    assert fingerprint(Response(url, 200, b"<html>twelve cards.</html>", head)) != same
    latin = (("content-type", "text/html; charset=iso-8859-1"), head[1])
    assert fingerprint(Response(url, 200, page.body, latin)) != same
    assert fingerprint(Response(url + "x", 200, page.body, head)) != same
    assert fingerprint(Response(url, 203, page.body, head)) != same


def test_the_fingerprints_of_a_million_products_list_pages_take_about_8_bytes_a_page() -> None:
    prints = Fingerprints()
    prints[83_334] = 7
    prints[2] = 5
    prints[0] = 9  # no such page: ignored
    assert prints.get(83_334) == 7 and prints.get(2) == 5
    assert prints.get(1) is None and prints.get(83_335) is None and prints.get(0) is None
    # (8 bytes a page and the array's room to grow; a dict of ints would take ~8 times more.)
    assert sys.getsizeof(prints._prints) < 83_334 * 8 * 1.2
