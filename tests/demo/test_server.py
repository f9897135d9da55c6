"""The demo server over real HTTP/1.1 on 127.0.0.1: routes, keep-alive, odd clients."""

from __future__ import annotations

import functools
from typing import Any

import httpx
import lxml.html
import pytest
import trio

from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, serve_demo


async def start(
    nursery: trio.Nursery, products: int = 100, seed: int = 3, faults: FaultConfig | None = None
) -> DemoServer:
    serve = functools.partial(
        serve_demo, DemoCatalogue(products, seed), faults=faults or FaultConfig()
    )
    server: DemoServer = await nursery.start(serve)
    return server


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=10)


def text(element: Any) -> str:
    return str(element.text_content())


def slugs_and_current(html: bytes) -> tuple[list[str], int, int]:
    doc = lxml.html.fromstring(html)
    hrefs = [a.get("href", "") for a in doc.cssselect("div.post-feed article.product a[href]")]
    slugs = [href.rstrip("/").rsplit("/", 1)[1] for href in hrefs]
    current = int(text(doc.cssselect("span.page-numbers.current")[0]))
    numbers = [int(text(a)) for a in doc.cssselect("a.page-numbers") if text(a).isdigit()]
    return slugs, current, max([current, *numbers])


async def test_list_pages_hold_the_right_products_newest_first(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    catalogue = server.catalogue
    async with client() as http:
        for page in (1, 5, 9):
            response = await http.get(server.list_url(page))
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            slugs, current, highest = slugs_and_current(response.content)
            assert slugs == [p.slug for p in catalogue.page(page)]
            assert (current, highest) == (page, 9)
    assert [p.serial for p in catalogue.page(9)] == [3, 2, 1, 0]
    assert server.stats.list_pages == 3 and server.stats.requests == 3


async def test_a_page_past_the_end_shows_page_one(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        first = await http.get(server.list_url(1))
        for page in (10, 11, 5000):
            response = await http.get(server.list_url(page))
            assert response.status_code == 200
            slugs, current, _ = slugs_and_current(response.content)
            assert current == 1
            assert response.content == first.content
            assert slugs == [p.slug for p in server.catalogue.page(1)]


async def test_list_urls_accept_any_query_string_or_none(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    expected = [p.slug for p in server.catalogue.page(2)]
    async with client() as http:
        for url in (
            f"{server.base_url}/csa-iot_products/page/2/",
            f"{server.base_url}/csa-iot_products/page/2",
            f"{server.base_url}/csa-iot_products/page/2/?foo=bar&x",
        ):
            response = await http.get(url)
            assert slugs_and_current(response.content)[:2] == (expected, 2)
        root = await http.get(f"{server.base_url}/csa-iot_products/")
        assert slugs_and_current(root.content)[1] == 1
        for bad in ("page/0/", "page/02/", "page/x/", "page/2/3/", "page/-1/"):
            response = await http.get(f"{server.base_url}/csa-iot_products/{bad}")
            assert response.status_code == 404, bad


async def test_detail_pages_and_404s(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    product = server.catalogue.by_serial(42)
    async with client() as http:
        response = await http.get(server.detail_url(product.slug))
        assert response.status_code == 200
        doc = lxml.html.fromstring(response.content)
        assert text(doc.cssselect("h1.entry-title")[0]) == product.model
        for path in (
            "/csa_product/no-such-thing-42/",
            "/csa_product/" + product.slug + "x/",
            "/csa_product/",
            "/csa_product/a/b/",
            "/wp-admin/",
            "/csa-iot_products/page/",
        ):
            missing = await http.get(server.base_url + path)
            assert missing.status_code == 404, path
            assert b"can&rsquo;t be found" in missing.content
    stats = server.stats
    assert (stats.details, stats.not_found, stats.requests) == (3, 6, 7)
    assert stats.internal_errors == 0


async def test_home_and_robots(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        home = await http.get(server.base_url + "/")
        robots = await http.get(server.base_url + "/robots.txt")
    assert home.status_code == 200 and b"100 certified products on 9 pages" in home.content
    assert robots.headers["content-type"].startswith("text/plain")
    assert b"User-agent: *" in robots.content
    assert server.stats.other == 2


async def test_robots_txt_is_the_servers_option_and_none_is_a_404(nursery: trio.Nursery) -> None:
    rules = b"User-agent: *\nDisallow: /csa_product/\n"
    custom: DemoServer = await nursery.start(
        functools.partial(serve_demo, DemoCatalogue(24, 1), robots_txt=rules)
    )
    absent: DemoServer = await nursery.start(
        functools.partial(serve_demo, DemoCatalogue(24, 1), robots_txt=None)
    )
    async with client() as http:
        served = await http.get(custom.base_url + "/robots.txt")
        missing = await http.get(absent.base_url + "/robots.txt")
    assert (served.status_code, served.content) == (200, rules)
    assert missing.status_code == 404 and absent.stats.not_found == 1


async def test_many_requests_share_one_keep_alive_connection(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        for i in range(60):
            product = server.catalogue.by_serial(i)
            response = await http.get(server.detail_url(product.slug))
            assert response.status_code == 200
    assert server.stats.connections == 1
    assert server.stats.requests == 60


async def test_head_sends_the_length_without_a_body(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        get = await http.get(server.list_url(3))
        head = await http.head(server.list_url(3))
        again = await http.get(server.list_url(3))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert again.content == get.content
    assert server.stats.connections == 1


async def test_other_methods_are_refused_with_405(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        response = await http.post(server.list_url(1), content=b"x" * 5000)
        after = await http.get(server.list_url(1))
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert after.status_code == 200
    assert server.stats.connections == 1


async def test_published_products_appear_on_page_one(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        before, _, highest = slugs_and_current((await http.get(server.list_url(1))).content)
        new = server.catalogue.publish(9)
        after, _, highest_after = slugs_and_current((await http.get(server.list_url(1))).content)
    assert after == [p.slug for p in new] + before[:3]
    assert (highest, highest_after) == (9, 10)


async def _exchange(server: DemoServer, data: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            while chunk := await stream.receive_some(65536):
                received += chunk
    return received


async def test_pipelined_requests_and_connection_close(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=30)
    request = b"GET /csa-iot_products/page/2/ HTTP/1.1\r\nHost: x\r\n\r\n"
    closing = b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = await _exchange(server, request + request + closing)
    assert reply.count(b"HTTP/1.1 200 ") == 3
    assert reply.endswith(b"Allow: /\n")


async def test_http_1_0_client_gets_its_answer_and_a_close(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=30)
    reply = await _exchange(server, b"GET /csa-iot_products/ HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"</html>\n")


async def test_garbage_gets_400_and_the_server_lives_on(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=30)
    reply = await _exchange(server, b"\x16\x03\x01 this is not http\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b"connection: close" in reply.lower()
    assert server.stats.bad_requests == 1
    async with client() as http:
        assert (await http.get(server.list_url(1))).status_code == 200


async def test_clients_vanishing_mid_request_are_quietly_dropped(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=30)
    for partial in (b"", b"GET /csa-iot_pro", b"GET / HTTP/1.1\r\nHost: x\r\n"):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        if partial:
            await stream.send_all(partial)
        await stream.aclose()
    # A reader that resets its side while the response is being written.
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    await stream.send_all(b"GET /csa-iot_products/ HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
    await trio.aclose_forcefully(stream)
    async with client() as http:
        assert (await http.get(server.list_url(1))).status_code == 200
    assert server.stats.internal_errors == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
async def test_only_loopback_addresses_are_served(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await serve_demo(DemoCatalogue(5), host=host)


async def test_localhost_means_127_0_0_1(nursery: trio.Nursery) -> None:
    server: DemoServer = await nursery.start(
        functools.partial(serve_demo, DemoCatalogue(5), host="localhost")
    )
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0


async def test_many_concurrent_clients_are_all_answered(nursery: trio.Nursery) -> None:
    server = await start(nursery, products=500)
    results: list[int] = []

    async def one_client(first: int) -> None:
        async with client() as http:
            for page in range(first, 43, 8):
                response = await http.get(server.list_url(page))
                results.append(len(slugs_and_current(response.content)[0]))

    async with trio.open_nursery() as clients:
        for first in range(1, 9):
            clients.start_soon(one_client, first)
    assert len(results) == 42 and sum(results) == 500
    assert server.stats.connections == 8


async def test_latency_delays_every_response_on_trios_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        serve = functools.partial(serve_demo, DemoCatalogue(30, 3), latency_ms=50_000)
        server: DemoServer = await nursery.start(serve)
        async with client() as http:
            http.timeout = httpx.Timeout(600)
            base = server.base_url
            for url in (server.list_url(1), base + "/robots.txt", base + "/nowhere"):
                started = trio.current_time()
                response = await http.get(url)
                assert response.status_code in (200, 404)
                # 50 s on the mock clock: the test takes no real time for it.
                assert 50 <= trio.current_time() - started < 51
            # Concurrent requests wait side by side, not in turn, and the server counts them.
            started = trio.current_time()
            async with trio.open_nursery() as requests:
                for page in (1, 2, 3):
                    requests.start_soon(http.get, server.list_url(page))
            assert 50 <= trio.current_time() - started < 51
        assert server.stats.peak_in_flight == 3
        assert server.stats.in_flight == 0
        nursery.cancel_scope.cancel()


async def test_no_latency_by_default(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        server = await start(nursery)
        started = trio.current_time()
        async with client() as http:
            assert (await http.get(server.list_url(1))).status_code == 200
        assert trio.current_time() - started < 1
        assert server.stats.peak_in_flight == 1
        nursery.cancel_scope.cancel()
