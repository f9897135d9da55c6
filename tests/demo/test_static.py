"""The static copy of the demo site: same pages, laid out for a static web server."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
import trio

from trio_crawl.demo import DemoCatalogue, DemoServer, serve_demo, write_static_site


def test_every_page_is_written_where_its_url_points(tmp_path: Path) -> None:
    catalogue = DemoCatalogue(30, seed=4)
    counts = write_static_site(catalogue, tmp_path, "http://127.0.0.1:8080")
    assert counts["list_pages"] == 3 and counts["detail_pages"] == 30
    assert counts["files"] == 3 + 1 + 30 + 3
    assert counts["bytes"] == sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    first = (tmp_path / "csa-iot_products/index.html").read_bytes()
    assert first == (tmp_path / "csa-iot_products/page/1/index.html").read_bytes()
    assert not (tmp_path / "csa-iot_products/page/4").exists()
    for product in catalogue:
        page = tmp_path / "csa_product" / product.slug / "index.html"
        assert product.certificate_id.encode() in page.read_bytes()
    assert b"http://127.0.0.1:8080/csa_product/" in first
    assert (tmp_path / "404.html").exists() and (tmp_path / "robots.txt").exists()


async def test_static_pages_are_byte_for_byte_what_the_server_sends(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    catalogue = DemoCatalogue(30, seed=4)
    server: DemoServer = await nursery.start(functools.partial(serve_demo, catalogue))
    await trio.to_thread.run_sync(write_static_site, catalogue, tmp_path, server.base_url)
    async with httpx.AsyncClient(trust_env=False) as http:
        for page in (1, 2, 3):
            served = (await http.get(server.list_url(page))).content
            assert served == (tmp_path / f"csa-iot_products/page/{page}/index.html").read_bytes()
        slug = catalogue.by_serial(7).slug
        served = (await http.get(server.detail_url(slug))).content
        assert served == (tmp_path / "csa_product" / slug / "index.html").read_bytes()
