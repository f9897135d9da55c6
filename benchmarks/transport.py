"""Client CPU per page: httpx's own transport (httpcore + h11) against `TrioTransport`, and
the two request paths over `TrioTransport`: `httpx.AsyncClient` against the fetcher's `Sender`.

    python benchmarks/transport.py [--requests 3000] [--concurrency 20] [--rounds 3]

The demo server runs in a separate process, so `time.process_time` here is the client's CPU
alone: the whole httpx client path (request building, cookies, the transport, reading the
body), GETting Matter list pages over keep-alive connections, `--concurrency` at a time. Prints
µs of client CPU per request, best of `--rounds`; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import trio

from trio_crawl.crawling.httpx_client import parse_url
from trio_crawl.crawling.senders import Sender
from trio_crawl.transport import TrioTransport


@contextlib.contextmanager
def demo_server() -> Iterator[str]:
    """The demo catalogue served by another process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "trio_crawl.demo.server", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


async def _cpu_per_get(
    base_url: str, get: Callable[[str], Awaitable[object]], requests: int, concurrency: int
) -> float:
    """µs of this process's CPU per `get` of a list page (each reads the whole page)."""
    await get(f"{base_url}/")
    paths = iter(f"{base_url}/csa-iot_products/page/{i % 300 + 1}/" for i in range(requests))

    async def worker() -> None:
        for url in paths:
            await get(url)

    started = time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return (time.process_time() - started) / requests * 1e6


async def cpu_per_request(
    base_url: str, transport: httpx.AsyncBaseTransport, requests: int, concurrency: int
) -> float:
    """µs of this process's CPU per GET of a list page, through `httpx.AsyncClient`."""
    async with httpx.AsyncClient(transport=transport) as client:

        async def get(url: str) -> None:
            (await client.get(url)).raise_for_status()

        return await _cpu_per_get(base_url, get, requests, concurrency)


async def sender_cpu_per_request(
    base_url: str, transport: httpx.AsyncBaseTransport, requests: int, concurrency: int
) -> float:
    """As `cpu_per_request`, through the fetcher's `Sender` (no `httpx.AsyncClient`)."""
    headers = {"user-agent": "bench/1", "accept-encoding": "gzip, deflate"}
    sender = Sender(transport, 30.0, headers, {})

    async def get(url: str) -> None:
        response = await sender.get(parse_url(url))
        await response.aread()
        response.raise_for_status()

    try:
        return await _cpu_per_get(base_url, get, requests, concurrency)
    finally:
        await sender.aclose()


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    arguments.add_argument("--requests", type=int, default=3000)
    arguments.add_argument("--concurrency", type=int, default=20)
    arguments.add_argument("--rounds", type=int, default=3)
    options = arguments.parse_args()
    n = options.concurrency
    contenders: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
        "AsyncClient + httpcore, h11": lambda: httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=n)
        ),
        "AsyncClient + TrioTransport": lambda: TrioTransport(max_connections=n),
        "AsyncClient + TrioTransport, h11": lambda: TrioTransport(max_connections=n, parser="h11"),
    }
    with demo_server() as base_url:
        for name, make in contenders.items():
            best = min(
                trio.run(cpu_per_request, base_url, make(), options.requests, n)
                for _ in range(options.rounds)
            )
            print(f"{name:<32}{best:8.0f} µs client CPU per request")
        best = min(
            trio.run(
                sender_cpu_per_request,
                base_url,
                TrioTransport(max_connections=n),
                options.requests,
                n,
            )
            for _ in range(options.rounds)
        )
        print(f"{'Sender + TrioTransport':<32}{best:8.0f} µs client CPU per request")


if __name__ == "__main__":
    main()
