"""What every contender shares (stdlib only: it is imported by every peer's own virtualenv).

A contender is a script run as its own process::

    <its python> benchmarks/contenders/NAME.py --base-url http://127.0.0.1:PORT --concurrency 32

It crawls the whole catalogue (list pages, then every detail page linked from them), reads model,
manufacturer and certificate id from each detail page, and prints one JSON line at the end
(`report`). `run.py` checks the counts against the catalogue and the `digest` against the one
it computes from the catalogue itself, so a contender that skipped or misread pages is caught.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import zlib
from dataclasses import dataclass, field

LIST_PATH = "/csa-iot_products/"
QUERY = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049"
    "&p_certificate=&p_family=&p_firmware_ver="
)


def list_url(base_url: str, page: int) -> str:
    """The live site's list URL for `page` (docs/architecture.md §6); the static server ignores
    the query."""
    base = base_url.rstrip("/")
    if page == 1:
        return f"{base}{LIST_PATH}?{QUERY}"
    return f"{base}{LIST_PATH}page/{page}/?{QUERY}"


def clean(text: str | None) -> str:
    """Whitespace collapsed, as trio_crawl's parser does, so every contender digests alike."""
    return " ".join((text or "").split())


def record_digest(model: str, manufacturer: str, certificate_id: str) -> int:
    return zlib.crc32(f"{model}\x1f{manufacturer}\x1f{certificate_id}".encode())


@dataclass
class Tally:
    """Counts a contender keeps while it crawls; `digest` is order-independent."""

    list_pages: int = 0
    details: int = 0
    products: int = 0
    requests: int = 0
    """HTTP requests sent; reported as null when `counts_requests` is off."""
    counts_requests: bool = True
    errors: int = 0
    digest: int = 0
    notes: dict[str, object] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def product(self, model: str, manufacturer: str, certificate_id: str) -> None:
        """A detail page read; it counts as a product when all three fields are present."""
        self.details += 1
        if model and manufacturer and certificate_id:
            self.products += 1
            self.digest = (self.digest + record_digest(model, manufacturer, certificate_id)) % (
                1 << 64
            )

    def start(self) -> None:
        self.started = time.perf_counter()


def peak_rss_kib() -> int:
    """This process's peak resident set size so far, in KiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def report(name: str, tally: Tally, seconds: float | None = None) -> None:
    """Print the contender's one JSON result line."""
    elapsed = time.perf_counter() - tally.started if seconds is None else seconds
    line = {
        "name": name,
        "list_pages": tally.list_pages,
        "details": tally.details,
        "products": tally.products,
        "requests": tally.requests if tally.counts_requests else None,
        "errors": tally.errors,
        "seconds": round(elapsed, 4),
        "digest": tally.digest,
        "self_peak_rss_kib": peak_rss_kib(),
        "python": sys.version.split()[0],
        **tally.notes,
    }
    print(json.dumps(line), flush=True)


def arguments(description: str, switches: dict[str, str] | None = None) -> argparse.Namespace:
    """``--base-url`` (loopback only), ``--concurrency`` and any contender-specific switches."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base-url", required=True, help="the catalogue, on 127.0.0.1")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    for flag, help_text in (switches or {}).items():
        parser.add_argument(flag, action="store_true", help=help_text)
    args = parser.parse_args()
    host = args.base_url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        parser.error(f"benchmarks crawl loopback only, not {host!r}")
    return args
