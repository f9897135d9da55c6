"""Whatever head a server sends, the Fetcher ends with a page or a `StageError`, never another
exception: a raw one is a bug a hostile server could use to stop a crawl.

The server here is a raw trio socket server (h11 would refuse to send most of these), on
127.0.0.1. Each request path names a seed; the seed picks a status, a few header lines from a
vocabulary of malformed, contradictory and non-ASCII ones, and a body. Every seed is fetched
three times on one fetcher, so what a response leaves behind (a cookie, a half-read
connection) meets the next request.
"""

from __future__ import annotations

import random

import pytest
import trio

from trio_crawl.crawling.http import Fetcher
from trio_crawl.engine.results import StageError

from .fetch_settings import settings_with

LINES = [
    b"Content-Type: text/html",
    b"Content-Type: text/html; charset=\xe9",
    b"Content-Type: text/html; charset=utf-8\xc3\xa9",
    b'Content-Type: text/html; charset="',
    b"Content-Type: text/html; charset=x-unknown",
    b"Content-Type: \xff\xfe",
    b"Content-Type: text/html; charset=utf-16",
    b"Content-Type: text/html;;;;charset===",
    b"Content-Length: 5",
    b"Content-Length: -1",
    b"Content-Length: 1e3",
    b"Content-Length: 5, 5",
    b"Content-Length: 99999999999999999999999",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: identity",
    b"Content-Encoding: gzip",
    b"Content-Encoding: br",
    b"Content-Encoding: deflate, gzip",
    b"Content-Encoding: \xe9",
    b"Set-Cookie: a=\xe9",
    b"Set-Cookie: \xe9=1",
    b"Set-Cookie: =; path=\xe9",
    b"Set-Cookie: b=1; domain=127.0.0.1; expires=\xe9",
    b"Set-Cookie: c=2; max-age=-1",
    b"Set-Cookie2: d=3",
    b"Location: /\xe9",
    b"Location: http://[::1",
    b"Location: //elsewhere.example/",
    b"Location: \xff",
    b"Retry-After: \xe9",
    b"Retry-After: 999999999999999999999",
    b"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT",
    b"Connection: close",
    b"Connection: \xe9",
    b"X-Long: " + b"a" * 70_000,
    b"X-Empty:",
    b"X-\xe9: 1",
    b"Keep-Alive: timeout=\xe9",
]
STATUSES = [200, 200, 200, 204, 206, 301, 302, 303, 304, 307, 308, 400, 404, 429, 500, 503, 999]
BODIES = [
    b"<html><body>x</body></html>",
    b"",
    b"\x1f\x8b\x08\x00garbage",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"zz\r\nbad\r\n",
    b"\xff" * 100,
]
SEEDS = 400


def response_for(target: bytes) -> bytes:
    """The response to a request for `target` (``/s/<seed>``; anything else: a plain page)."""
    _, _, seed = target.partition(b"/s/")
    if not seed.isdigit():
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    rng = random.Random(int(seed))
    lines = [b"HTTP/1.1 %d X" % rng.choice(STATUSES), *rng.sample(LINES, rng.randint(0, 6))]
    return b"\r\n".join(lines) + b"\r\n\r\n" + rng.choice(BODIES)


async def answer_once(stream: trio.SocketStream) -> None:
    """Read one request head, answer it, hang up (the answer may not say where it ends)."""
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            data += chunk
        target = data.split(b" ", 2)[1]
        await stream.send_all(response_for(target))
    except trio.BrokenResourceError:
        pass
    finally:
        await stream.aclose()


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["trio", "httpcore"])
async def test_every_hostile_head_ends_as_a_page_or_a_stage_error(
    nursery: trio.Nursery, transport: str
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, answer_once, listeners)
    settings = settings_with(
        request_timeout_secs=5, robots_txt=False, transport=transport, max_redirects=1
    )
    outcomes: dict[str, int] = {}
    async with Fetcher.open(settings) as fetcher:
        for seed in range(SEEDS):
            for _ in range(3):
                try:
                    await fetcher.get(f"http://127.0.0.1:{port}/s/{seed}")
                    outcome = "page"
                except StageError as error:
                    outcome = error.kind.value
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # The vocabulary reaches pages and several kinds of failure, not one error for everything.
    assert sum(outcomes.values()) == 3 * SEEDS
    assert outcomes.get("page", 0) > 0
    assert len(outcomes) >= 4, outcomes
