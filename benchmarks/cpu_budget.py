"""Where a contender's CPU goes, per page: each process and thread it runs, in CPU seconds.

    .venv/bin/python benchmarks/cpu_budget.py [--only trio_crawl,aiohttp] [--products 4000]
                                              [--rounds 3] [--server auto|nginx|demo]

Each contender crawls the benchmark site as in run.py while `process_cpu.TreeSampler` reads
``/proc/<pid>/task/*/stat`` of it and its descendants; the figure per thread is its median over
the rounds, in µs of CPU per page (list + detail pages), next to the whole (`os.wait4` plus
orphans, as run.py counts it). CPU seconds, not pages/s: on a shared machine they hardly move
with the load. Function-level splits of one thread come from ``profile_contender.py`` (py-spy)
or ``instructions.py`` (callgrind).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
from collections.abc import Sequence

from process_cpu import TreeSampler
from run import (
    BY_NAME,
    compile_bytecode,
    ensure_project_python,
    ensure_venv,
    load_site_module,
    log,
    run_contender,
)


def label(process: str, thread: str, main_pid: int, pid: int, tid: int) -> str:
    """A name that is the same in every round (pids are not)."""
    where = "main process" if pid == main_pid else f"child process {process}"
    what = "main thread" if pid == tid else f"thread {thread}"
    return f"{where}: {what}"


def budget(name: str, base_url: str, pages: int, concurrency: int, rounds: int) -> None:
    contender = BY_NAME[name]
    problem = ensure_venv(contender)
    if problem:
        log(f"{name}: ABSENT — {problem}")
        return
    per_thread: dict[str, list[float]] = collections.defaultdict(list)
    totals: list[float] = []
    samplers: list[TreeSampler] = []

    def watch(pid: int) -> None:
        sampler = TreeSampler(pid, period=0.02)
        sampler.start()
        samplers.append(sampler)

    for _ in range(rounds):
        result, measures, tail = run_contender(
            contender, base_url, concurrency=concurrency, timeout=600, on_start=watch
        )
        sampler = samplers[-1]
        sampler.stop()
        if result is None:
            log(f"{name}: no result ({tail})")
            return
        seen: dict[str, float] = collections.defaultdict(float)
        for thread in sampler.threads():
            key = label(thread.process, thread.thread, sampler.root, thread.pid, thread.tid)
            seen[key] += thread.cpu
        for key, cpu in seen.items():
            per_thread[key].append(cpu)
        totals.append(measures["cpu"])
    total = statistics.median(totals)
    print(f"\n{name}: {pages:,} pages, {rounds} round(s); CPU (median) per page")
    print(f"  {1e6 * total / pages:8.1f} µs  all processes (os.wait4 + orphans), {total:.2f} s")
    rows = sorted(per_thread.items(), key=lambda item: -statistics.median(item[1]))
    for key, values in rows:
        cpu = statistics.median(values)
        print(f"  {1e6 * cpu / pages:8.1f} µs  {key} ({cpu:.2f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="trio_crawl,aiohttp")
    parser.add_argument("--products", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    args = parser.parse_args(argv)
    ensure_project_python()
    names = [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {', '.join(BY_NAME)}")
    compile_bytecode()
    with load_site_module().serve_site(args.products, server=args.server) as site:
        log(f"server: {site.server} at {site.base_url}")
        for name in names:
            budget(name, site.base_url, site.pages, args.concurrency, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
