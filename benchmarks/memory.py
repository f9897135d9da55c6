"""Memory scaling: the peak RSS of all of trio_crawl's processes crawling catalogues of each size.

    .venv/bin/python benchmarks/memory.py [--sizes 10000,100000] [--server auto|nginx|demo]
                                          [--keep-sites]

Same contender as run.py (``contenders/crawl_trio_crawl.py``: the real `crawl`, SQLite store,
events, one parse process), one crawl per size. A user's machine holds every process at once,
so the figure that counts is **all processes**: the crawl process's own peak (`getrusage`, which
it reports at its end) plus the peak of each parse process below it (``VmHWM`` in
``/proc/PID/status``, read twice a second while it lives). Summing peaks reached at different
moments overstates the peak of the sum, never understates it. RSS is also sampled, to show
whether it grows with the crawl or stays flat. Goal (issue 29): ≤ 100 MiB at 1,000,000
products, all processes together, measured at that size.

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


def _status_mib(pid: int, field: str = "VmRSS") -> float | None:
    """A memory line (VmRSS, VmHWM) of `pid`'s status in MiB (None once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
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
    """Reads the RSS of a process, and of it with its descendants (its parse processes), and
    each descendant's peak, every half second until stopped."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB): the crawl
        self.with_children: list[float] = []  # MiB: the crawl and its descendants, summed
        self.child_peaks: dict[int, float] = {}  # MiB: each descendant's VmHWM, last read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._sample, args=(pid,), daemon=True)
        self._thread.start()

    def _sample(self, pid: int) -> None:
        started = time.perf_counter()
        while not self._stop.wait(_SAMPLE_SECS):
            own = _status_mib(pid)
            if own is None:
                return
            self.samples.append((time.perf_counter() - started, own))
            children = 0.0
            for child in _descendants(pid):
                children += _status_mib(child) or 0.0
                peak = _status_mib(child, "VmHWM")
                if peak is not None:
                    self.child_peaks[child] = max(peak, self.child_peaks.get(child, 0.0))
            self.with_children.append(own + children)

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
        # The crawl's own peak, as it reported it (else the larger of it and its children).
        crawl_peak = (
            result["self_peak_rss_kib"] / 1024
            if result and result.get("self_peak_rss_kib")
            else measures["peak_rss_mib"]
        )
        parse_peaks = sorted(sampler.child_peaks.values(), reverse=True)
        row = {
            "products": products,
            "pages": site.pages,
            "server": site.server,
            "valid": ok,
            "peak_rss_all_processes_mib": round(crawl_peak + sum(parse_peaks), 1),
            "peak_rss_mib": round(crawl_peak, 1),
            "parse_processes_peak_rss_mib": [round(peak, 1) for peak in parse_peaks],
            "rss_quartiles_mib": sampler.quartiles(),
            "peak_rss_with_parse_process_mib": round(max(sampler.with_children, default=0), 1),
            "crawl_seconds": result["seconds"] if result else None,
            "pages_per_sec": round(site.pages / result["seconds"]) if result else None,
            "problem": "" if ok else (json.dumps(result) if result else tail),
        }
        rows.append(row)
        verdict = "ok" if ok else "INVALID"
        print(
            f"trio_crawl {products:>9,} products ({site.pages:,} pages, {site.server}): "
            f"peak RSS of all processes {row['peak_rss_all_processes_mib']:.1f} MiB (crawl "
            f"{row['peak_rss_mib']:.1f}, parse processes {row['parse_processes_peak_rss_mib']}),"
            f" crawl RSS at 25/50/75/100 % {row['rss_quartiles_mib']}, sampled sum "
            f"{row['peak_rss_with_parse_process_mib']:.1f} MiB, {row['crawl_seconds']} s, "
            f"{row['pages_per_sec']} pages/s  {verdict}",
            flush=True,
        )
        if products >= 50_000 and not args.keep_sites and site.server == "nginx":
            shutil.rmtree(site_module.site_root(products), ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    largest = max(rows, key=lambda row: row["products"])
    total = largest["peak_rss_all_processes_mib"]
    goal = "met" if largest["valid"] and total <= 100 else "NOT met"
    if largest["products"] < 1_000_000:
        goal += " (the goal is measured at 1,000,000 products)"
    print(
        f"goal <= 100 MiB, all processes, at {largest['products']:,} products: {goal}", flush=True
    )
    return 0 if all(row["valid"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
