"""Memory scaling: trio_crawl's peak RSS crawling 10k- and 100k-product catalogues.

    .venv/bin/python benchmarks/memory.py [--sizes 10000,100000] [--server auto|nginx|demo]
                                          [--keep-sites]

Same contender as run.py (``contenders/crawl_trio_crawl.py``: the real `crawl`, SQLite store,
events, one parse process), one crawl per size. Peak RSS comes from `os.wait4`: the larger of
the crawl process and its parse process, not their sum. RSS is also sampled from
``/proc/PID/status`` while it runs, to show whether it grows with the crawl or stays flat, and
summed with its parse process's, since a user's machine holds both. Goal (issue 4): flat in
crawl size, ≤ 120 MiB at 100k products, the two processes together.

The 100k site is ~100k files (~0.7 GB of HTML, ~1.4 GB on disk, ~20 s to write); sites of
50k products or more are deleted afterwards unless ``--keep-sites``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path

from run import BY_NAME, RESULTS, ensure_project_python, load_site_module, log, run_contender

_SAMPLE_SECS = 0.5


def _rss_mib(pid: int) -> float | None:
    """VmRSS of `pid` in MiB (None once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (its parse processes), from each thread's children list."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in children.read_text().split()]
        except OSError:
            continue
    return [p for child in found for p in (child, *_descendants(child))]


class RssSampler:
    """Reads the RSS of a process, and of it with its descendants (its parse process), every
    half second until stopped."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB): the crawl
        self.with_children: list[float] = []  # MiB: the crawl and its descendants, summed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._sample, args=(pid,), daemon=True)
        self._thread.start()

    def _sample(self, pid: int) -> None:
        started = time.perf_counter()
        while not self._stop.wait(_SAMPLE_SECS):
            own = _rss_mib(pid)
            if own is None:
                return
            self.samples.append((time.perf_counter() - started, own))
            self.with_children.append(own + sum(_rss_mib(c) or 0.0 for c in _descendants(pid)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def quartiles(self) -> list[float]:
        """RSS (MiB) at 25 %, 50 %, 75 % and 100 % of the run (last sample)."""
        if not self.samples:
            return []
        n = len(self.samples)
        return [round(self.samples[max(0, n * q // 4 - 1)][1], 1) for q in (1, 2, 3, 4)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated product counts")
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keep-sites", action="store_true", help="keep big static sites")
    args = parser.parse_args()
    ensure_project_python()
    site_module = load_site_module()
    contender = BY_NAME["trio_crawl"]
    rows = []
    for products in (int(size) for size in args.sizes.split(",")):
        started = time.perf_counter()
        with site_module.serve_site(products, server=args.server) as site:
            log(f"{products:,} products: site ready in {time.perf_counter() - started:.0f} s")
            sampler = RssSampler()
            try:
                result, measures, tail = run_contender(
                    contender,
                    site.base_url,
                    concurrency=args.concurrency,
                    timeout=max(300.0, products / 50),
                    on_start=sampler.start,
                )
            finally:
                sampler.stop()
        ok = (
            result is not None
            and result["list_pages"] == site.last_page
            and result["products"] == site.products
        )
        row = {
            "products": products,
            "pages": site.pages,
            "server": site.server,
            "valid": ok,
            "peak_rss_mib": round(measures["peak_rss_mib"], 1),
            "rss_quartiles_mib": sampler.quartiles(),
            "peak_rss_with_parse_process_mib": round(max(sampler.with_children, default=0), 1),
            "crawl_seconds": result["seconds"] if result else None,
            "pages_per_sec": round(site.pages / result["seconds"]) if result else None,
            "problem": "" if ok else (json.dumps(result) if result else tail),
        }
        rows.append(row)
        verdict = "ok" if ok else "INVALID"
        print(
            f"trio_crawl {products:>7,} products ({site.pages:,} pages, {site.server}): "
            f"peak RSS {row['peak_rss_mib']:.1f} MiB, RSS at 25/50/75/100 % "
            f"{row['rss_quartiles_mib']}, with its parse process (sampled) "
            f"{row['peak_rss_with_parse_process_mib']:.1f} MiB, {row['crawl_seconds']} s, "
            f"{row['pages_per_sec']} pages/s  {verdict}",
            flush=True,
        )
        if products >= 50_000 and not args.keep_sites and site.server == "nginx":
            shutil.rmtree(site_module.site_root(products), ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    largest = max(rows, key=lambda row: row["products"])
    total = max(largest["peak_rss_mib"], largest["peak_rss_with_parse_process_mib"])
    goal = "met" if largest["valid"] and total <= 120 else "NOT met"
    print(f"goal <= 120 MiB at {largest['products']:,} products: {goal}", flush=True)
    return 0 if all(row["valid"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
