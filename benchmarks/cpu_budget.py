"""Where a contender's CPU goes, per page: each process and thread it runs, in CPU seconds.

    .venv/bin/python benchmarks/cpu_budget.py [--only trio_crawl,aiohttp] [--products 4000]
                                              [--rounds 3] [--server auto|nginx|demo]
                                              [--against REV]

Each contender crawls the benchmark site as in run.py while `process_cpu.TreeSampler` reads
``/proc/<pid>/task/*/stat`` of it and its descendants; the figure per thread is its median over
the rounds, in µs of CPU per page (list + detail pages), next to the whole (`os.wait4` plus
orphans, as run.py counts it). CPU seconds, not pages/s: on a shared machine they move far less
with the load. Function-level splits of one thread come from ``profile_contender.py`` (py-spy)
or ``instructions.py`` (callgrind).

``--against REV`` also runs every contender of this project's own interpreter with trio_crawl as
it was at git revision REV (exported to a temporary folder, put first on its ``PYTHONPATH``),
alternating with the working tree round by round, so that both see the same spell of the
machine: the way to judge a change while others share it.
"""

from __future__ import annotations

import argparse
import collections
import compileall
import contextlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from process_cpu import TreeSampler
from run import (
    BY_NAME,
    REPO,
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


class Tally:
    """One contender's (or one revision's) readings over the rounds."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.per_thread: dict[str, list[float]] = collections.defaultdict(list)
        self.system: dict[str, list[float]] = collections.defaultdict(list)
        """Each thread's kernel seconds, by round."""
        self.totals: list[float] = []
        self.rates: list[float] = []
        """pages/s of each round (crawl time as the contender measured it)."""

    def print(self, pages: int) -> None:
        if not self.totals:
            print(f"\n{self.title}: no valid round")
            return
        total = statistics.median(self.totals)
        print(f"\n{self.title}: {pages:,} pages, {len(self.totals)} round(s); CPU per page")
        print(
            f"  {1e6 * total / pages:8.1f} µs  all processes (os.wait4 + orphans), {total:.2f} s"
            f" (rounds: {', '.join(f'{t:.2f}' for t in self.totals)})"
        )
        rate = statistics.median(self.rates)
        print(f"  {rate:8,.0f} pages/s (median; the machine's load moves it)")
        rows = sorted(self.per_thread.items(), key=lambda item: -statistics.median(item[1]))
        for key, values in rows:
            cpu = statistics.median(values)
            system = statistics.median(self.system[key])
            print(
                f"  {1e6 * cpu / pages:8.1f} µs  {key} ({cpu:.2f} s, of which kernel"
                f" {1e6 * system / pages:.1f} µs)"
            )


def one_round(
    name: str, base_url: str, concurrency: int, tally: Tally, env: dict[str, str] | None = None
) -> None:
    samplers: list[TreeSampler] = []

    def watch(pid: int) -> None:
        sampler = TreeSampler(pid, period=0.02)
        sampler.start()
        samplers.append(sampler)

    result, measures, tail = run_contender(
        BY_NAME[name], base_url, concurrency=concurrency, timeout=600, on_start=watch,
        extra_env=env,
    )  # fmt: skip
    sampler = samplers[-1]
    sampler.stop()
    if result is None or result.get("status", "completed") != "completed":
        log(f"{tally.title}: round not counted ({result and result.get('status')}; {tail})")
        return
    seen: dict[str, float] = collections.defaultdict(float)
    kernel: dict[str, float] = collections.defaultdict(float)
    for thread in sampler.threads():
        key = label(thread.process, thread.thread, sampler.root, thread.pid, thread.tid)
        seen[key] += thread.cpu
        kernel[key] += thread.system
    for key, cpu in seen.items():
        tally.per_thread[key].append(cpu)
        tally.system[key].append(kernel[key])
    tally.totals.append(measures["cpu"])
    pages = int(result["list_pages"]) + int(result["details"])
    tally.rates.append(pages / float(result["seconds"]))


@contextlib.contextmanager
def exported(revision: str) -> Iterator[Path]:
    """trio_crawl as it was at `revision`, in a temporary folder, compiled to bytecode."""
    with tempfile.TemporaryDirectory(prefix="trio-crawl-rev-") as folder:
        archive = Path(folder) / "tree.tar"
        subprocess.run(
            ["git", "archive", "--format=tar", "-o", str(archive), revision, "trio_crawl"],
            cwd=REPO,
            check=True,
        )
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        compileall.compile_dir(Path(folder) / "trio_crawl", quiet=1)
        yield Path(folder)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="trio_crawl,aiohttp")
    parser.add_argument("--products", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    parser.add_argument("--against", help="a git revision of trio_crawl to compare with")
    args = parser.parse_args(argv)
    ensure_project_python()
    names = [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {', '.join(BY_NAME)}")
    for name in names:
        problem = ensure_venv(BY_NAME[name])
        if problem:
            parser.error(f"{name} cannot be installed: {problem}")
    compile_bytecode()
    tallies = {name: Tally(f"{name} (working tree)" if args.against else name) for name in names}
    with contextlib.ExitStack() as stack:
        old: dict[str, str] = {}
        if args.against:
            folder = stack.enter_context(exported(args.against))
            old = {"PYTHONPATH": str(folder)}
            for name in names:
                if BY_NAME[name].venv is None:
                    tallies[f"{name}@{args.against}"] = Tally(f"{name} at {args.against}")
        site = stack.enter_context(load_site_module().serve_site(args.products, server=args.server))
        log(f"server: {site.server} at {site.base_url}")
        for round_ in range(1, args.rounds + 1):
            for key, tally in tallies.items():
                name, _, revision = key.partition("@")
                one_round(name, site.base_url, args.concurrency, tally, old if revision else None)
            log(f"round {round_}/{args.rounds} done")
        for tally in tallies.values():
            tally.print(site.pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
