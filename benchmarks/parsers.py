"""Response parse cost, httptools against h11, on the demo catalogue's own pages.

    python benchmarks/parsers.py [--responses 2000] [--rounds 5]

Each page (a Matter list page and a detail page, rendered by `trio_crawl.demo`) is wrapped in
an HTTP/1.1 response with the head a real server sends, framed by Content-Length and, as a
second variant, chunked in 8 KiB chunks. The bytes are fed to the transport's parsers the way
a socket gives them (65,536-byte reads), one response per `start`, exactly as `TrioTransport`
does: so the figures include the adapters' own work. Prints µs per response, best of
`--rounds`; asserts nothing (the figures go in the `trio_crawl.transport.transport`
docstring).
"""

from __future__ import annotations

import argparse
import time

from trio_crawl.demo import DemoCatalogue, Renderer
from trio_crawl.transport.parsers import ParserName, make_parser
from trio_crawl.transport.wire import READ_SIZE

BASE_URL = "http://127.0.0.1:8000"
CHUNK = 8192

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"date: Thu, 03 Dec 2026 08:00:00 GMT\r\n"
    b"server: trio-crawl-demo\r\n"
    b"content-type: text/html; charset=UTF-8\r\n"
    b"cache-control: max-age=600\r\n"
    b"vary: Accept-Encoding\r\n"
    b"x-frame-options: SAMEORIGIN\r\n"
)


def with_length(body: bytes) -> bytes:
    return _HEAD + b"content-length: %d\r\n\r\n" % len(body) + body


def chunked(body: bytes) -> bytes:
    pieces = [_HEAD, b"transfer-encoding: chunked\r\n\r\n"]
    for start in range(0, len(body), CHUNK):
        part = body[start : start + CHUNK]
        pieces.append(b"%x\r\n%b\r\n" % (len(part), part))
    pieces.append(b"0\r\n\r\n")
    return b"".join(pieces)


def reads(response: bytes) -> list[bytes]:
    """`response` as the socket would hand it over."""
    return [response[i : i + READ_SIZE] for i in range(0, len(response), READ_SIZE)]


def time_parser(name: ParserName, response: bytes, n: int, rounds: int) -> float:
    """Best µs per response over `rounds` runs of parsing `response` `n` times."""
    pieces = reads(response)
    parser = make_parser(name)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            parser.start(b"GET")
            for piece in pieces:
                parser.feed(piece)
            if not (parser.complete and parser.keep_alive):
                raise AssertionError(f"{name} did not finish a keep-alive response")
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    arguments.add_argument("--responses", type=int, default=2000)
    arguments.add_argument("--rounds", type=int, default=5)
    options = arguments.parse_args()

    catalogue = DemoCatalogue(products=4000)
    renderer = Renderer(catalogue, BASE_URL)
    pages = {
        "list page": renderer.list_page(2),
        "detail page": renderer.detail_page(catalogue.page(2)[0].slug) or b"",
    }
    print(f"{'response':<32}{'bytes':>8}{'httptools µs':>14}{'h11 µs':>10}{'ratio':>8}")
    for page, body in pages.items():
        for framing, wrap in (("content-length", with_length), ("chunked", chunked)):
            response = wrap(body)
            fast = time_parser("httptools", response, options.responses, options.rounds)
            slow = time_parser("h11", response, options.responses, options.rounds)
            label = f"{page}, {framing}"
            print(f"{label:<32}{len(response):>8}{fast:>14.1f}{slow:>10.1f}{slow / fast:>7.1f}x")


if __name__ == "__main__":
    main()
