"""The real Matter parser (`trio_crawl.sites.MatterCatalogue`) reads back exactly what the demo
catalogue holds, over HTTP, so the demo and the parser cannot drift apart unnoticed."""

from __future__ import annotations

import functools

import httpx
import pytest
import trio

from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, serve_demo
from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites import ListEntry, MatterCatalogue


async def start(
    nursery: trio.Nursery, products: int, faults: FaultConfig | None = None
) -> DemoServer:
    server: DemoServer = await nursery.start(
        functools.partial(
            serve_demo, DemoCatalogue(products, seed=7), faults=faults or FaultConfig()
        )
    )
    return server


async def test_every_list_and_detail_page_parses_to_the_catalogue(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=150)
    catalogue = server.catalogue
    site = MatterCatalogue(base_url=server.base_url)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        for page in range(1, catalogue.last_page + 1):
            url = site.list_url(page)
            assert url == server.list_url(page)
            parsed = site.parse_list((await http.get(url)).content, url)
            assert (parsed.current, parsed.highest) == (page, catalogue.last_page)
            expected = catalogue.page(page)
            assert [e.url for e in parsed.entries] == [server.detail_url(p.slug) for p in expected]
            cards = [e for e in parsed.entries if isinstance(e, ListEntry)]
            assert [(e.manufacturer, e.model, e.certificate_id) for e in cards] == [
                (p.manufacturer, p.model, p.certificate_id) for p in expected
            ]
        for product in catalogue:
            url = server.detail_url(product.slug)
            detail = site.parse_detail((await http.get(url)).content, url)
            assert (detail.model, detail.manufacturer, detail.device_type) == (
                product.model,
                product.manufacturer,
                product.device_type,
            )
            assert (detail.vid, detail.pid) == (product.vid, product.pid)
            for field in (
                "certificate_id", "certification_date", "software_version", "hardware_version",
                "firmware_version", "specification_version", "family_sku", "family_variant_sku",
                "family_id", "tis_trp_tested", "transport_interface", "primary_device_type_id",
            ):  # fmt: skip
                assert getattr(detail, field) == getattr(product, field), (field, product.slug)


async def test_past_the_end_the_parser_sees_a_different_current_page(
    nursery: trio.Nursery,
) -> None:
    server = await start(nursery, products=40)
    site = MatterCatalogue(base_url=server.base_url)
    async with httpx.AsyncClient(trust_env=False) as http:
        url = site.list_url(5)
        parsed = site.parse_list((await http.get(url)).content, url)
    assert parsed.current == 1 and parsed.highest == 4
    assert len(parsed.entries) == 12


async def test_malformed_pages_are_parse_errors(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=40, faults=FaultConfig(rate_malformed=1.0))
    site = MatterCatalogue(base_url=server.base_url)
    async with httpx.AsyncClient(trust_env=False) as http:
        list_url = site.list_url(2)
        detail_url = server.detail_url(server.catalogue.by_serial(1).slug)
        broken_list = (await http.get(list_url)).content
        broken_detail = (await http.get(detail_url)).content
    with pytest.raises(StageError) as list_error:
        site.parse_list(broken_list, list_url)
    with pytest.raises(StageError) as detail_error:
        site.parse_detail(broken_detail, detail_url)
    assert list_error.value.kind is detail_error.value.kind is ErrorKind.parse_error
