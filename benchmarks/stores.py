"""The store dimension: trio_crawl's benchmark crawl into SQLite, into PostgreSQL and into a
store that keeps nothing, in one run, on one catalogue.

    .venv/bin/python benchmarks/stores.py                 # 1,000 products, 3 rounds
    options: --products N  --rounds N  --concurrency 32  --server auto|nginx|demo

The catalogue is served as for `run.py`; PostgreSQL is a server of this run's own, started as
the tests start theirs (`tests/postgres_server.py`: initdb in a temporary directory, fsync off,
synchronous_commit on), with a fresh database for every crawl. The three stores take turns
(sqlite, postgresql, null, sqlite, …), so that a slow spell of the machine hits all of them.

For every crawl: pages/s (as `run.py` counts them), the CPU seconds of the crawl process
(`os.wait4`) and, for PostgreSQL, of the server: every process of it, from /proc, before and
after the crawl (the postmaster's own and its reaped children's time, plus the live
backends'). The last line printed is ``stores sqlite=… postgresql=… null=… pages/s;
postgresql/sqlite=X.XX``, from the medians.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
STORES = ("sqlite", "postgresql", "null")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def server_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system seconds of the server's processes so far: the postmaster's own and its
    reaped children's (ended backends), plus each live child's."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for index, pid in enumerate(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile: its time is in the postmaster's children's
        # After the ")": state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based).
        utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
        total += utime + stime + (cutime + cstime if index == 0 else 0)
    return total / ticks


def seconds(value: float) -> str:
    """CPU seconds as printed, or "—" for a measure the store has not (no server of its own)."""
    return f"{'—':>6}  " if math.isnan(value) else f"{value:6.2f} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    args = parser.parse_args(argv)
    run = _load("benchmarks_run", BENCH_DIR / "run.py")
    run.ensure_project_python()
    sys.path.insert(0, str(REPO))
    from tests.postgres_server import start_server

    crawler = run.BY_NAME["trio_crawl"]
    null = run.BY_NAME["trio_crawl_null_store"]
    timeout = max(120.0, args.products / 20)
    digest = run.expected_digest(args.products)
    site_module = run.load_site_module()
    database = start_server()
    results: dict[str, list[dict[str, Any]]] = {store: [] for store in STORES}
    try:
        with site_module.serve_site(args.products, server=args.server) as site:
            run.log(f"server: {site.server} at {site.base_url}; {database.bin}")
            run.run_contender(
                crawler, site.base_url, concurrency=args.concurrency, timeout=timeout
            )  # fmt: skip  (warm-up, untimed)
            for round_ in range(1, args.rounds + 1):
                for store in STORES:
                    env = {}
                    if store == "postgresql":
                        env["TRIO_CRAWL_BENCH_DB"] = database.new_database("bench")
                    before = server_cpu_seconds(database.server_pids())
                    result, measures, tail = run.run_contender(
                        null if store == "null" else crawler,
                        site.base_url,
                        concurrency=args.concurrency,
                        timeout=timeout,
                        extra_env=env,
                    )
                    server_cpu = server_cpu_seconds(database.server_pids()) - before
                    judged = run.judge(crawler, round_, site, digest, result, measures, tail)
                    line = {
                        "valid": judged.valid,
                        "problem": judged.problem,
                        "pages_per_sec": judged.pages_per_sec,
                        "crawl_cpu": judged.cpu,
                        "server_cpu": server_cpu if store == "postgresql" else math.nan,
                    }
                    results[store].append(line)
                    state = "ok" if judged.valid else f"INVALID ({judged.problem})"
                    run.log(
                        f"round {round_}/{args.rounds} {store:<10}"
                        f" {judged.pages_per_sec:8,.0f} pages/s"
                        f"  crawl cpu {judged.cpu:6.2f} s"
                        f"  server cpu {seconds(line['server_cpu'])}  {state}"
                    )
    finally:
        database.close()
    medians = {
        store: {
            key: statistics.median([r[key] for r in runs if r["valid"]] or [math.nan])
            for key in ("pages_per_sec", "crawl_cpu", "server_cpu")
        }
        for store, runs in results.items()
    }
    for store, values in medians.items():
        print(
            f"{store:<10} {values['pages_per_sec']:8,.0f} pages/s  crawl cpu"
            f" {seconds(values['crawl_cpu'])}  server cpu {seconds(values['server_cpu'])}"
            f"  (median of {sum(r['valid'] for r in results[store])} valid runs)",
            flush=True,
        )
    ratio = medians["postgresql"]["pages_per_sec"] / medians["sqlite"]["pages_per_sec"]
    print(
        "stores "
        + " ".join(f"{s}={medians[s]['pages_per_sec']:.0f}" for s in STORES)
        + f" pages/s; postgresql/sqlite={ratio:.2f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
