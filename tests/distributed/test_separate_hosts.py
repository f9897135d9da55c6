"""Workers on separate hosts: three `trio-crawl worker` processes, each in a network namespace
of its own, crawl one catalogue through Redis and PostgreSQL over the network, as on three
machines. Redis, PostgreSQL and the demo server listen on the bridge's address in the root
namespace, not on loopback: inside a namespace, 127.0.0.1 is that namespace's own and holds
none of them (checked). The store must equal a clean single-process crawl's row for row.

Skipped, loudly, where the machine does not allow network namespaces (not root, no `ip`)."""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trio_crawl import crawl
from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

from .. import postgres_server, redis_server
from ..e2e.test_interrupted_runs import child_env, differences, snapshot
from ..netns import Hosts, NamespacesUnavailable
from .crawl_config import distributed_config
from .steering_runs import stored

pytestmark = pytest.mark.slow

PRODUCTS = 240  # 20 list pages, one a batch
HOSTS = 3
GUARD_SECS = 150  # against a hang, not a wait for work
FAULTS = FaultConfig(rate_500=0.03, seed=9, max_faults_per_url=1)

CONFIG = """\
[crawl]
strategy = "full"
batch_size = 1
page_range_limit = 1000
request_timeout_secs = 10

[rate_limit]
requests_per_second = 0

[concurrency]
parse_processes = 0

[retry.list_pages]
base_delay_ms = 10
max_delay_ms = 50
jitter_ms = 0
max_attempts = 5

[retry.product_details]
base_delay_ms = 10
max_delay_ms = 50
jitter_ms = 0
max_attempts = 5

[retry.status_check]
base_delay_ms = 10
max_delay_ms = 50
jitter_ms = 0
max_attempts = 5
"""


def _skip(why: str) -> None:
    warnings.warn(f"separate-hosts test SKIPPED: {why}", stacklevel=2)
    pytest.skip(f"separate-hosts test SKIPPED: {why}")


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    try:
        made = Hosts(HOSTS).open()
    except NamespacesUnavailable as exc:
        _skip(str(exc))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def servers(
    hosts: Hosts,
) -> Iterator[tuple[postgres_server.PostgresServer, redis_server.RedisServer]]:
    """PostgreSQL and Redis of their own, listening on the bridge's address only."""
    try:
        pg = postgres_server.start_server(hosts.server_address, clients=hosts.subnet)
    except postgres_server.ServerUnavailable as exc:
        _skip(f"no PostgreSQL server: {exc}")
    try:
        redis = redis_server.start_server(hosts.server_address)
    except redis_server.ServerUnavailable as exc:
        pg.close()
        _skip(f"no redis-server: {exc}")
    try:
        yield pg, redis
    finally:
        redis.close()
        pg.close()


def _reaches(hosts: Hosts, number: int, address: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=3)"
    done = subprocess.run(
        hosts.command(number, [sys.executable, "-c", probe]), capture_output=True, check=False
    )
    return done.returncode == 0


async def test_workers_on_separate_hosts_store_what_a_clean_crawl_stores(
    hosts: Hosts,
    servers: tuple[postgres_server.PostgresServer, redis_server.RedisServer],
    tmp_path: Path,
) -> None:
    pg, redis = servers
    clean_db, db = pg.new_database(), pg.new_database()
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    # Each namespace reaches the servers over its link, and has none of them on its loopback.
    for number in range(1, HOSTS + 1):
        assert _reaches(hosts, number, hosts.server_address, redis.port)
        assert not _reaches(hosts, number, "127.0.0.1", redis.port)
        assert not _reaches(hosts, number, "127.0.0.1", pg.port)

    catalogue = DemoCatalogue(products=PRODUCTS, seed=8)
    logs = [tmp_path / f"host{number}.log" for number in range(1, HOSTS + 1)]
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(
                    serve_demo,
                    catalogue,
                    host=hosts.server_address,
                    private_network=True,
                    faults=FAULTS,
                )
            )
            site = MatterCatalogue(base_url=server.base_url)
            async with open_store(clean_db, per_page=site.per_page) as store:
                summary = await crawl(distributed_config(), site=site, store=store)
            assert summary.status == "completed", summary

            def command(name: str, *extra: str) -> list[str]:
                return [
                    sys.executable, "-m", "trio_crawl", name, "--base-url", server.base_url,
                    "--db", db, "--redis", redis.url(), "--queue", "hosts",
                    "--config", str(config), *extra,
                ]  # fmt: skip

            workers = [
                await trio.lowlevel.open_process(
                    hosts.command(number, command("worker", "--name", f"host{number}")),
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    env=child_env(),
                )
                for number, log in enumerate(logs, start=1)
            ]
            try:
                planned = await trio.run_process(
                    hosts.command(1, command("plan")),
                    capture_stdout=True,
                    stderr=subprocess.STDOUT,
                    check=False,
                    env=child_env(),
                )
                codes = [await worker.wait() for worker in workers]
            finally:
                for worker in workers:
                    if worker.returncode is None:
                        worker.kill()
                        with trio.CancelScope(shield=True):
                            await worker.wait()
            nursery.cancel_scope.cancel()

    outputs = [log.read_text() for log in logs]
    assert planned.returncode == 0, planned.stdout.decode()
    assert codes == [0] * HOSTS, outputs
    taken = [int(out.split("taken ")[1].split(",")[0]) for out in outputs]
    assert sum(taken) >= PRODUCTS // 12, outputs  # every batch (a reclaim may add one)
    assert sum(1 for count in taken if count) >= 2, taken  # the work was shared
    assert stored(db) == PRODUCTS
    assert differences(snapshot(clean_db, server.base_url), snapshot(db, server.base_url)) == []
