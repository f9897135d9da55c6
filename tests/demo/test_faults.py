"""Fault injection: each kind as a client sees it, the per-URL cap, and the plan's arithmetic."""

from __future__ import annotations

import functools

import httpx
import lxml.html
import pytest
import trio
import trio.testing

from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, FaultKind, FaultPlan, serve_demo


async def start(nursery: trio.Nursery, faults: FaultConfig, products: int = 40) -> DemoServer:
    server: DemoServer = await nursery.start(
        functools.partial(serve_demo, DemoCatalogue(products, seed=5), faults=faults)
    )
    return server


def client(timeout: float = 10) -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=timeout)


# --- the plan, without a server -------------------------------------------------------------


def test_no_faults_by_default() -> None:
    plan = FaultPlan(FaultConfig())
    assert not FaultConfig().enabled
    assert all(plan.decide(f"/p/{i}") is None for i in range(1000))
    assert plan.total_injected == 0


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="rate_500"):
        FaultConfig(rate_500=1.5)
    with pytest.raises(ValueError, match="rate_reset"):
        FaultConfig(rate_reset=-0.1)
    with pytest.raises(ValueError, match="add up"):
        FaultConfig(rate_500=0.6, rate_429=0.5)
    with pytest.raises(ValueError, match="max_faults_per_url"):
        FaultConfig(max_faults_per_url=-1)
    with pytest.raises(ValueError, match="slow_secs"):
        FaultConfig(slow_secs=-1)


def test_the_plan_is_deterministic_and_follows_the_rates() -> None:
    config = FaultConfig(rate_500=0.1, rate_429=0.05, rate_reset=0.05, seed=11)
    first, second = FaultPlan(config), FaultPlan(config)
    decisions = [first.decide(f"/p/{i}") for i in range(20_000)]
    assert decisions == [second.decide(f"/p/{i}") for i in range(20_000)]
    assert 1700 < first.injected[FaultKind.error_500] < 2300
    assert 800 < first.injected["429"] < 1200
    assert 800 < first.injected["reset"] < 1200
    assert first.injected["502"] == 0
    assert first.total_injected == sum(d is not None for d in decisions)


def test_no_url_gets_more_faults_than_the_cap() -> None:
    plan = FaultPlan(FaultConfig(rate_503=1.0, max_faults_per_url=2))
    assert [plan.decide("/a") for _ in range(4)] == [FaultKind.error_503] * 2 + [None] * 2
    assert plan.decide("/b") is FaultKind.error_503
    assert plan.injected["503"] == 3


def test_low_preset() -> None:
    low = FaultConfig.low()
    assert abs(low.rate_500 + low.rate_502 + low.rate_503 - 0.02) < 1e-9
    assert (low.rate_429, low.retry_after_secs, low.max_faults_per_url) == (0.01, 1, 2)
    assert (low.rate_reset, low.rate_malformed, low.rate_slow) == (0.005, 0.005, 0.0)
    assert FaultConfig.low(seed=3).seed == 3


# --- each kind against the real server ------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "status"), [("rate_500", 500), ("rate_502", 502), ("rate_503", 503)]
)
async def test_server_errors(nursery: trio.Nursery, rate: str, status: int) -> None:
    server = await start(nursery, FaultConfig(**{rate: 1.0}))  # type: ignore[arg-type]
    async with client() as http:
        response = await http.get(server.list_url(1))
        detail = await http.get(server.detail_url(server.catalogue.by_serial(0).slug))
    assert (response.status_code, detail.status_code) == (status, status)
    assert "retry-after" not in response.headers
    assert server.stats.faults[str(status)] == 2
    assert server.stats.connections == 1  # errors keep the connection alive


async def test_rate_limited_with_retry_after(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_429=1.0, retry_after_secs=7))
    async with client() as http:
        response = await http.get(server.list_url(2))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert server.stats.faults[FaultKind.rate_limited] == 1


async def test_reset_closes_the_connection_without_a_response(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_reset=1.0))
    async with client() as http:
        for _ in range(3):
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                await http.get(server.list_url(1))
    assert server.stats.faults["reset"] == 3
    assert server.stats.internal_errors == 0


async def test_truncated_body_is_a_protocol_error(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_truncated=1.0))
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(server.list_url(1))
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(server.detail_url(server.catalogue.by_serial(3).slug))
    assert server.stats.faults["truncated"] == 2


async def test_malformed_pages_are_200_without_the_content(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_malformed=1.0))
    async with client() as http:
        listing = await http.get(server.list_url(2))
        detail = await http.get(server.detail_url(server.catalogue.by_serial(3).slug))
    assert (listing.status_code, detail.status_code) == (200, 200)
    assert not lxml.html.fromstring(listing.content).cssselect("div.post-feed")
    doc = lxml.html.fromstring(detail.content)
    assert not doc.cssselect("h1.entry-title") and not doc.cssselect("li.item")
    assert server.stats.faults["malformed"] == 2


async def test_slow_response_outlasts_a_client_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        server = await start(nursery, FaultConfig(rate_slow=1.0, slow_secs=60))
        started = trio.current_time()
        async with client(timeout=5) as http:
            with pytest.raises(httpx.TimeoutException):
                await http.get(server.list_url(1))
        assert 5 <= trio.current_time() - started < 60
        async with client(timeout=120) as http:
            response = await http.get(server.list_url(1))
        assert response.status_code == 200
        assert trio.current_time() - started >= 65
        assert server.stats.faults["slow"] == 2
        nursery.cancel_scope.cancel()


async def test_max_faults_per_url_guarantees_eventual_success(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_500=1.0, max_faults_per_url=2))
    async with client() as http:
        statuses = [(await http.get(server.list_url(3))).status_code for _ in range(4)]
        other = (await http.get(server.list_url(4))).status_code
        query_variant = await http.get(server.base_url + "/csa-iot_products/page/3/")
    assert statuses == [500, 500, 200, 200]
    assert other == 500
    assert query_variant.status_code == 200  # the cap counts per path, whatever the query


async def test_only_catalogue_pages_are_faulted(nursery: trio.Nursery) -> None:
    server = await start(nursery, FaultConfig(rate_reset=1.0))
    async with client() as http:
        assert (await http.get(server.base_url + "/robots.txt")).status_code == 200
        assert (await http.get(server.base_url + "/csa_product/unknown-1/")).status_code == 404
        assert (await http.get(server.base_url + "/")).status_code == 200
    assert server.stats.faults.total() == 0


async def test_a_retrying_client_reads_everything_under_the_low_preset(
    nursery: trio.Nursery,
) -> None:
    server = await start(nursery, FaultConfig.low(seed=1), products=600)
    urls = [server.list_url(page) for page in range(1, server.catalogue.last_page + 1)]
    urls += [server.detail_url(p.slug) for p in server.catalogue]
    bodies: dict[str, bytes] = {}
    async with client() as http:
        for url in urls:
            for _attempt in range(3):  # max_faults_per_url=2, so the third try succeeds
                try:
                    response = await http.get(url)
                except httpx.TransportError:
                    continue
                if response.status_code == 200 and b"</html>" in response.content:
                    bodies[url] = response.content
                    break
    assert len(bodies) == len(urls)
    injected = server.stats.faults
    assert 0 < injected.total() < len(urls) * 0.1
    assert set(injected) <= {"500", "502", "503", "429", "reset", "malformed"}
