"""trio_crawl side by side with Scrapy, Crawlee and raw client loops, on one local catalogue.

    .venv/bin/python benchmarks/run.py --quick     # 1,000 products, 2 rounds (~1 min + installs)
    .venv/bin/python benchmarks/run.py             # 4,000 products, 5 rounds
    .venv/bin/python benchmarks/run.py --all       # … and the engine overhead benchmark
    options: --products N  --rounds N  --only trio_crawl,scrapy  --concurrency 32
             --server auto|nginx|demo  --no-warmup  --variants  --output DIR

Serves the catalogue with `site.py` (nginx when installed, else the demo server), then runs
the contenders (each its own process, see ``contenders/``) alternately — A B C D E, A B C D E,
… — so that a slow spell of the machine hits all of them. Peers are installed on first use into
``benchmarks/.venvs/<name>`` (git-ignored) and reused after; none is a dependency of trio_crawl.

For every run: the crawl time the contender reports (from just before its crawl starts, after
its imports, to the end), the process's wall time and peak RSS (`os.wait4`), the CPU time of the
contender and of every process it started (`process_cpu`: children it waited for are in
`os.wait4`'s figure, orphans it left are adopted and reaped here), that CPU per page, and a
check that it read every list page and every product (counts, plus a digest of model,
manufacturer and certificate id compared with the catalogue's own). A run that missed pages is
INVALID and does not count. pages/s = (list pages + detail pages) / crawl seconds.

Writes ``results/latest.json`` and ``results/latest.md`` (``quick.*`` for ``--quick`` or any
other partial run, so the committed full results stay); the last line printed is
``ratios trio_crawl/scrapy=X.XX …`` (median pages/s of trio_crawl over the peer's; nan when
either has no valid run), after ``cpu per page trio_crawl/aiohttp=X.XX …`` (trio_crawl's median
CPU per page over the peer's: < 1 means trio_crawl spends less) and a line for the issue's goals.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from process_cpu import become_subreaper, children_of, reap_orphans

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENVS = BENCH_DIR / ".venvs"
CONTENDERS_DIR = BENCH_DIR / "contenders"
RESULTS = BENCH_DIR / "results"
RATIO_PEERS = ("scrapy", "crawlee", "raw_httpx", "raw_trio", "aiohttp")


@dataclass(frozen=True)
class Contender:
    """One crawler under test: its script and where its Python comes from."""

    name: str
    script: str
    venv: str | None = None
    """A virtualenv under benchmarks/.venvs, or None for the project's own interpreter."""
    requirements: tuple[str, ...] = ()
    """What `pip install` puts into that virtualenv."""
    what: str = ""
    args: tuple[str, ...] = ()
    """Extra arguments for the script (the diagnostic variants of trio_crawl use them)."""

    @property
    def python(self) -> Path:
        if self.venv is None:
            return Path(sys.executable)
        return VENVS / self.venv / "bin" / "python"


CONTENDERS: tuple[Contender, ...] = (
    Contender(
        "trio_crawl",
        "crawl_trio_crawl.py",
        what="crawl() + SqliteStore + events subscriber, rate limit off",
    ),
    Contender("raw_httpx", "crawl_raw_httpx.py", what="httpx + trio workers, trio_crawl parser"),
    Contender(
        "raw_trio",
        "crawl_raw_trio.py",
        what="httpx over trio_crawl's TrioTransport + trio workers, trio_crawl parser",
    ),
    Contender(
        "aiohttp",
        "crawl_aiohttp.py",
        venv="aiohttp",
        requirements=("aiohttp>=3.9", "-e", str(REPO)),
        what="aiohttp + asyncio workers, trio_crawl parser",
    ),
    Contender(
        "scrapy",
        "crawl_scrapy.py",
        venv="scrapy",
        requirements=("scrapy>=2.13",),
        what="Scrapy, tuned, parsel CSS selectors",
    ),
    Contender(
        "crawlee",
        "crawl_crawlee.py",
        venv="crawlee",
        requirements=("crawlee[parsel]>=1.0",),
        what="Crawlee ParselCrawler, memory storage",
    ),
)
VARIANTS: tuple[Contender, ...] = (
    Contender(
        "trio_crawl_no_events",
        "crawl_trio_crawl.py",
        what="trio_crawl without an events subscriber",
        args=("--no-events",),
    ),
    Contender(
        "trio_crawl_null_store",
        "crawl_trio_crawl.py",
        what="trio_crawl with a store that keeps nothing (no SQLite)",
        args=("--null-store",),
    ),
    Contender(
        "trio_crawl_one_process",
        "crawl_trio_crawl.py",
        what="trio_crawl parsing in the crawl's thread (parse_processes = 0), like the raw loops",
        args=("--one-process",),
    ),
    Contender(
        "fetcher_loop",
        "crawl_fetcher_loop.py",
        what="raw_httpx's loop fetching through trio_crawl's Fetcher (crawl settings)",
    ),
    Contender(
        "trio_crawl_lean",
        "crawl_trio_crawl.py",
        what="trio_crawl without events and without SQLite",
        args=("--no-events", "--null-store"),
    ),
)
"""Not run by default: ``--variants`` (or ``--only``) adds them, to see what events, SQLite, the
Fetcher and the engine cost trio_crawl."""
BY_NAME = {contender.name: contender for contender in (*CONTENDERS, *VARIANTS)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_site_module() -> ModuleType:
    """benchmarks/site.py, imported under another name (``site`` is a stdlib module)."""
    name = "trio_crawl_bench_site"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / "site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ensure_project_python() -> None:
    """Re-run under the project's .venv when this interpreter cannot import trio_crawl."""
    if importlib.util.find_spec("trio_crawl") is not None:
        return
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable).resolve() != venv_python.resolve():
        log(f"trio_crawl is not importable here; re-running with {venv_python}")
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    sys.exit("trio_crawl is not importable: run `make test` (or `make demo`) first to make .venv")


# --- peers' virtualenvs --------------------------------------------------------------------------


def ensure_venv(contender: Contender) -> str | None:
    """Create and fill the contender's virtualenv if needed; None when ready, else the error."""
    if contender.venv is None:
        return None
    venv = VENVS / contender.venv
    stamp = venv / ".bench-installed"
    wanted = json.dumps(list(contender.requirements))
    if str(REPO) in contender.requirements:
        # An editable install of this project: its own dependencies can change under it (the
        # move to selectolax did), so the stamp covers pyproject.toml too.
        wanted += "\n" + (REPO / "pyproject.toml").read_text()
    if stamp.exists() and stamp.read_text() == wanted and contender.python.exists():
        return None
    VENVS.mkdir(parents=True, exist_ok=True)
    install_log = VENVS / f"{contender.venv}-install.log"
    log(f"installing {contender.name} into {venv} (log: {install_log}) …")
    started = time.perf_counter()
    steps: list[list[str]] = []
    if not contender.python.exists():
        steps.append([sys.executable, "-m", "venv", str(venv)])
    steps.append([str(contender.python), "-m", "pip", "install", "-q", *contender.requirements])
    with install_log.open("w") as out:
        for step in steps:
            out.write(f"$ {' '.join(step)}\n")
            out.flush()
            try:
                done = subprocess.run(
                    step, stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"{' '.join(step[:4])} …: {exc}"
            if done.returncode != 0:
                lines = install_log.read_text().strip().splitlines()
                tail = [line for line in lines if not line.startswith("WARNING")][-4:]
                return f"install failed (exit {done.returncode}): " + " | ".join(tail)
    stamp.write_text(wanted)
    log(f"installed {contender.name} in {time.perf_counter() - started:.0f} s")
    return None


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Run:
    """One contender process: what it said and what the OS measured."""

    name: str
    round: int
    valid: bool
    problem: str = ""
    seconds: float = math.nan
    """Crawl time as the contender measured it (after its imports)."""
    wall: float = math.nan
    """Process wall time, interpreter start to exit."""
    cpu: float = math.nan
    """User + system CPU seconds of the process and of every process it started."""
    peak_rss_mib: float = math.nan
    pages: int = 0
    pages_per_sec: float = math.nan
    cpu_ms_per_page: float = math.nan
    result: dict[str, Any] = field(default_factory=dict)


def run_contender(
    contender: Contender,
    base_url: str,
    *,
    concurrency: int,
    timeout: float,
    extra_env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    interpreter_args: Sequence[str] = (),
    on_start: Callable[[int], None] | None = None,
    tail_lines: int = 6,
) -> tuple[dict[str, Any] | None, dict[str, float], str]:
    """Run one contender process to the end; (its JSON line or None, OS measures, stderr tail).

    `prefix` runs the interpreter under another program (e.g. a profiler), `interpreter_args`
    go before the script (e.g. ``-m pyinstrument``); `on_start` is
    called with the process id once it runs (e.g. to sample its memory).
    """
    command = [
        *prefix,
        str(contender.python),
        *interpreter_args,
        str(CONTENDERS_DIR / contender.script),
        *contender.args,
        "--base-url", base_url,
        "--concurrency", str(concurrency),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONUNBUFFERED="1", **(extra_env or {}))
    adopts = become_subreaper()
    ours_before = set(children_of(os.getpid())) if adopts else set()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=REPO
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        if on_start is not None:
            on_start(process.pid)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # interrupted: never leave the contender running
            process.kill()
            process.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        orphans_cpu, orphans = reap_orphans(ours_before) if adopts else (0.0, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    measures = {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime + orphans_cpu,
        "orphans": float(orphans),
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "returncode": float(process.returncode),
    }
    result = None
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                continue
            break
    tail = " | ".join(stderr.strip().splitlines()[-tail_lines:])
    if process.returncode != 0 and wall >= timeout:
        tail = f"killed after {timeout:.0f} s timeout. {tail}"
    return result, measures, tail


def expected_digest(products: int) -> int:
    """The digest every contender must report: model, manufacturer, certificate id of each
    product, as the catalogue generated them."""
    sys.path.insert(0, str(CONTENDERS_DIR))
    from _common import clean, record_digest

    from trio_crawl.demo import DemoCatalogue

    total = 0
    for product in DemoCatalogue(products=products, seed=7):
        total += record_digest(
            clean(product.model), clean(product.manufacturer), clean(product.certificate_id)
        )
    return total % (1 << 64)


def judge(
    contender: Contender,
    round_: int,
    site: Any,
    digest: int,
    result: dict[str, Any] | None,
    measures: dict[str, float],
    tail: str,
) -> Run:
    """Turn one process's output into a `Run`, valid only if it crawled everything right."""
    run = Run(contender.name, round_, valid=False, result=result or {})
    run.wall = measures["wall"]
    run.cpu = measures["cpu"]
    run.peak_rss_mib = measures["peak_rss_mib"]
    if result is None:
        run.problem = f"no result line (exit {int(measures['returncode'])}): {tail}"
        return run
    run.seconds = float(result["seconds"])
    run.pages = int(result["list_pages"]) + int(result["details"])
    run.pages_per_sec = run.pages / run.seconds if run.seconds > 0 else math.nan
    run.cpu_ms_per_page = 1000 * run.cpu / run.pages if run.pages > 0 else math.nan
    problems = []
    if measures["returncode"] != 0:
        problems.append(f"exit {int(measures['returncode'])}")
    if result["list_pages"] != site.last_page:
        problems.append(f"list pages {result['list_pages']} of {site.last_page}")
    if result["details"] != site.products or result["products"] != site.products:
        problems.append(
            f"details {result['details']}, products {result['products']} of {site.products}"
        )
    if result.get("digest") != digest:
        problems.append("digest differs from the catalogue's (misread fields)")
    if result.get("status", "completed") != "completed":
        problems.append(f"status {result['status']}")
    run.problem = "; ".join(problems)
    run.valid = not problems
    return run


# --- summary -------------------------------------------------------------------------------------


def spread(values: Sequence[float]) -> dict[str, float]:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return {"median": math.nan, "min": math.nan, "max": math.nan}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean)}


def summarise(runs: Sequence[Run], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = [run for run in runs if run.name == name]
        valid = [run for run in mine if run.valid]
        summary[name] = {
            "runs": len(mine),
            "valid_runs": len(valid),
            "problems": sorted({run.problem for run in mine if not run.valid}),
            "pages_per_sec": spread([run.pages_per_sec for run in valid]),
            "seconds": spread([run.seconds for run in valid]),
            "wall": spread([run.wall for run in valid]),
            "cpu": spread([run.cpu for run in valid]),
            "cpu_ms_per_page": spread([run.cpu_ms_per_page for run in valid]),
            "peak_rss_mib": spread([run.peak_rss_mib for run in valid]),
        }
    return summary


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    ours = summary.get("trio_crawl", {}).get("pages_per_sec", {}).get("median", math.nan)
    out = {}
    for peer in RATIO_PEERS:
        theirs = summary.get(peer, {}).get("pages_per_sec", {}).get("median", math.nan)
        out[peer] = ours / theirs if theirs and not math.isnan(theirs) else math.nan
    return out


def ratio_line(values: dict[str, float]) -> str:
    return "ratios " + " ".join(f"trio_crawl/{peer}={values[peer]:.2f}" for peer in RATIO_PEERS)


def cpu_ratios(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    """trio_crawl's median CPU per page over each peer's (< 1: trio_crawl spends less)."""
    ours = summary.get("trio_crawl", {}).get("cpu_ms_per_page", {}).get("median", math.nan)
    out = {}
    for peer in RATIO_PEERS:
        theirs = summary.get(peer, {}).get("cpu_ms_per_page", {}).get("median", math.nan)
        out[peer] = ours / theirs if theirs and not math.isnan(theirs) else math.nan
    return out


def cpu_ratio_line(values: dict[str, float]) -> str:
    return "cpu per page " + " ".join(
        f"trio_crawl/{peer}={values[peer]:.2f}" for peer in RATIO_PEERS
    )


GOALS = (
    ("pages/s vs aiohttp", "pages", "aiohttp", ">=", 1.0),
    ("CPU per page vs aiohttp", "cpu", "aiohttp", "<=", 1.2),
    ("pages/s vs scrapy", "pages", "scrapy", ">=", 5.0),
    ("pages/s vs crawlee", "pages", "crawlee", ">=", 3.0),
)
"""Issue 29's goals, each one ratio of this run against a bound."""


def goals_line(speed: dict[str, float], cpu: dict[str, float]) -> str:
    """Each goal of issue 29 with this run's ratio and whether it is met (n/a: a side had no
    valid run)."""
    parts = []
    for what, kind, peer, sense, bound in GOALS:
        value = (speed if kind == "pages" else cpu).get(peer, math.nan)
        if math.isnan(value):
            verdict = "n/a"
        else:
            met = value >= bound if sense == ">=" else value <= bound
            verdict = "met" if met else "NOT met"
        parts.append(f"{what} {value:.2f} (goal {sense} {bound:g}: {verdict})")
    return "goals: " + "; ".join(parts)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return math.nan


def git_revision() -> str:
    """The checked-out commit of trio_crawl, marked dirty when trio_crawl/ has local changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "trio_crawl"],
            capture_output=True,
            text=True,
            cwd=REPO,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


def machine(site_module: ModuleType) -> dict[str, Any]:
    nginx = site_module.nginx_binary()
    nginx_version = ""
    if nginx:
        done = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
        nginx_version = (done.stderr or done.stdout).strip().split("/")[-1]
    return {
        "trio_crawl_commit": git_revision(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_total_gib(), 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "nginx": nginx_version or None,
    }


def fmt(values: dict[str, float], digits: int = 0) -> str:
    if math.isnan(values["median"]):
        return "—"
    low, high = values["min"], values["max"]
    return f"{values['median']:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def table(report: dict[str, Any]) -> list[str]:
    """The results table (markdown), one row per contender."""
    lines = [
        "| contender | valid | pages/s | crawl s | wall s | CPU s | CPU ms/page | peak RSS MiB | "
        "trio_crawl ÷ it | trio_crawl CPU/page ÷ it |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["summary"].items():
        ratio = report["ratios"].get(name)
        ratio_text = "—" if ratio is None or math.isnan(ratio) else f"{ratio:.2f}"
        cpu_ratio = report.get("cpu_ratios", {}).get(name)
        cpu_text = "—" if cpu_ratio is None or math.isnan(cpu_ratio) else f"{cpu_ratio:.2f}"
        valid = (
            "absent" if name in report.get("absent", {}) else f"{row['valid_runs']}/{row['runs']}"
        )
        lines.append(
            f"| {name} | {valid} | {fmt(row['pages_per_sec'])} | "
            f"{fmt(row['seconds'], 2)} | {fmt(row['wall'], 2)} | {fmt(row['cpu'], 2)} | "
            f"{fmt(row['cpu_ms_per_page'], 3)} | {fmt(row['peak_rss_mib'])} | {ratio_text} | "
            f"{cpu_text} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    site = report["site"]
    host = report["machine"]
    lines = [
        "# Benchmarks: trio_crawl side by side with its peers",
        "",
        f"Run {report['date']} with `{report['command']}`.",
        "",
        f"- **Catalogue**: {site['products']:,} products, {site['last_page']} list pages "
        f"({site['pages']:,} pages per crawl), served on 127.0.0.1 by **{site['server']}**"
        + (
            f" {host['nginx'] or ''} (static files, 1 worker, access log off, keep-alive)."
            if site["server"] == "nginx"
            else " (`python -m trio_crawl.demo.server` in its own process; nginx not found)."
        ),
        f"- **Machine**: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB RAM; "
        f"{host['os']}; Python {host['python']}. Server and client share the cores.",
        f"- **trio_crawl**: commit {host['trio_crawl_commit']}.",
        f"- **Rounds**: {report['rounds']} (contenders alternate: "
        f"{' → '.join(report['order'])}, then again), "
        f"{'after one untimed warm-up crawl' if report['warmup'] else 'no warm-up'}. "
        f"Concurrency: {report['concurrency']} requests in flight for every contender.",
        "",
        "Medians, with (min-max) over the valid runs. pages/s = (list + detail pages) / crawl "
        "time as the contender measured it after its imports; wall = whole process; CPU = user "
        "+ system seconds of the process and of every process it started (its parse process, "
        "say), start-up included; CPU ms/page = that CPU over the pages; RSS = the main "
        "process's peak resident set (`os.wait4`). Ratio = trio_crawl's median pages/s over "
        "the contender's (> 1: trio_crawl faster); CPU/page ratio = trio_crawl's median CPU "
        "per page over the contender's (< 1: trio_crawl spends less).",
        "",
        *table(report),
        "",
        f"`{report['ratio_line']}`",
        "",
        f"`{report.get('cpu_ratio_line', '')}`",
        "",
        f"`{report.get('goals_line', '')}`",
        "",
    ]
    invalid = {name: row["problems"] for name, row in report["summary"].items() if row["problems"]}
    absent = report.get("absent", {})
    if invalid or absent:
        lines += ["## Invalid or absent", ""]
        for name, problem in absent.items():
            lines.append(f"- **{name}**: absent — {problem}")
        for name, problems in invalid.items():
            for problem in problems:
                lines.append(f"- **{name}**: INVALID run — {problem}")
        lines.append("")
    lines += ["## Contenders", ""]
    for name in report["order"]:
        contender = BY_NAME[name]
        version = report["versions"].get(name, "")
        lines.append(
            f"- **{name}** ({contender.what}){f'; {version}' if version else ''}: "
            f"`benchmarks/contenders/{' '.join((contender.script, *contender.args))}`"
        )
    lines += [
        "",
        "trio_crawl's settings: strategy `full`, `per_host_concurrency` 32 (so at most 32 "
        "requests in flight, like the others) split as `list_pages` 8 + `product_details` 24, "
        "`max_connections` 32, `parallel_batches` 4, `batch_size` 10, rate limit 0 (off); "
        "its run includes the status check (2 extra list-page requests) and SQLite upserts "
        "into a temporary file.",
        "",
    ]
    lines += [
        "How to read it: the machine has 2 cores and the server takes a share of them, so every",
        "contender is CPU-bound and pages/s measures mostly how much CPU a crawler spends per",
        "page. aiohttp parses HTTP in C; Crawlee's default HTTP client (impit) is written in",
        "Rust; trio_crawl, raw_httpx and Scrapy (Twisted) parse HTTP in Python. Crawl time starts",
        "after the interpreter and the imports, so start-up cost shows only in the wall column.",
        "",
    ]
    if report.get("engine_overhead"):
        lines += ["## Engine overhead (`benchmarks/engine_overhead.py`)", "", "```"]
        lines += [report["engine_overhead"].rstrip(), "```", ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def engine_overhead() -> str:
    log("running benchmarks/engine_overhead.py …")
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "engine_overhead.py")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )
    output = done.stdout + (f"\n(exit {done.returncode}) {done.stderr}" if done.returncode else "")
    print(output.rstrip(), flush=True)
    return output


def compile_bytecode() -> None:
    """Compile trio_crawl's modules (and the contenders' shared one) to bytecode files, as pip
    does when it installs a package: the peers' packages come compiled, and a source tree run
    with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile trio_crawl again in every
    contender process, start-up CPU that no installed copy pays. Both trees: the one a
    contender imports (an editable install's link tree, say) and the source tree the parse
    process imports."""
    for folder in (REPO / "trio_crawl", CONTENDERS_DIR):
        compileall.compile_dir(folder, quiet=1)
    imported = (
        "import compileall, pathlib, trio_crawl;"
        "compileall.compile_dir(pathlib.Path(trio_crawl.__file__).parent, quiet=1)"
    )
    subprocess.run([sys.executable, "-c", imported], cwd="/", check=False)


def results_stem(quick: bool, products: int | None, rounds: int | None, only: str | None) -> str:
    """``latest`` for the full run the committed results come from; ``quick`` for any other
    (``--quick``, another size, fewer rounds, some contenders), so that a try never overwrites
    them."""
    return "quick" if quick or products or rounds or only else "latest"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 products, 2 rounds")
    parser.add_argument("--products", type=int, help="catalogue size (default 4,000)")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, --quick 2)")
    parser.add_argument("--only", help="comma-separated contenders (default: all)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    parser.add_argument("--all", action="store_true", help="also run engine_overhead.py")
    parser.add_argument(
        "--variants", action="store_true", help="add trio_crawl's diagnostic variants"
    )
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up crawl")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where latest.* go")
    args = parser.parse_args(argv)
    ensure_project_python()

    products = args.products or (1000 if args.quick else 4000)
    rounds = args.rounds or (2 if args.quick else 5)
    names = [n.strip() for n in args.only.split(",")] if args.only else [c.name for c in CONTENDERS]
    if args.variants:
        names += [variant.name for variant in VARIANTS if variant.name not in names]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; known: {', '.join(BY_NAME)}")
    timeout = max(120.0, products / 20)

    absent: dict[str, str] = {}
    for name in names:
        problem = ensure_venv(BY_NAME[name])
        if problem:
            absent[name] = problem
            log(f"{name}: ABSENT — {problem}")
    present = [name for name in names if name not in absent]

    compile_bytecode()
    site_module = load_site_module()
    revision = git_revision()
    digest = expected_digest(products)
    runs: list[Run] = []
    versions: dict[str, str] = {}
    with site_module.serve_site(products, server=args.server) as site:
        log(f"server: {site.server} at {site.base_url}")
        if present and not args.no_warmup:
            warm = "aiohttp" if "aiohttp" in present else present[0]
            log(f"warm-up crawl ({warm}, untimed) …")
            run_contender(
                BY_NAME[warm], site.base_url, concurrency=args.concurrency, timeout=timeout
            )
        for round_ in range(1, rounds + 1):
            for name in present:
                result, measures, tail = run_contender(
                    BY_NAME[name], site.base_url, concurrency=args.concurrency, timeout=timeout
                )
                run = judge(BY_NAME[name], round_, site, digest, result, measures, tail)
                runs.append(run)
                for key in ("scrapy", "crawlee", "aiohttp"):
                    if run.result.get(key):
                        versions[name] = f"{key} {run.result[key]}"
                state = "ok" if run.valid else f"INVALID ({run.problem})"
                log(
                    f"round {round_}/{rounds} {name:<10} {run.pages_per_sec:8,.0f} pages/s "
                    f"crawl {run.seconds:6.2f} s wall {run.wall:6.2f} s "
                    f"cpu {run.cpu:6.2f} s ({run.cpu_ms_per_page:5.3f} ms/page) "
                    f"rss {run.peak_rss_mib:6.1f} MiB  {state}"
                )
        site_info = {**site.as_dict(), "pages": site.pages}

    overhead = engine_overhead() if args.all else ""
    summary = summarise(runs, names)
    values = ratios(summary)
    line = ratio_line(values)
    cpu_values = cpu_ratios(summary)
    cpu_line = cpu_ratio_line(cpu_values)
    goals = goals_line(values, cpu_values)
    host = machine(site_module)
    if host["trio_crawl_commit"] != revision:
        host["trio_crawl_commit"] = (
            f"{revision} (changed during the run to {host['trio_crawl_commit']})"
        )
    report = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": host,
        "site": site_info,
        "rounds": rounds,
        "concurrency": args.concurrency,
        "warmup": bool(present) and not args.no_warmup,
        "order": present,
        "versions": versions,
        "absent": absent,
        "summary": summary,
        "ratios": values,
        "ratio_line": line,
        "cpu_ratios": cpu_values,
        "cpu_ratio_line": cpu_line,
        "goals_line": goals,
        "runs": [run.__dict__ for run in runs],
        "engine_overhead": overhead,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    stem = results_stem(args.quick, args.products, args.rounds, args.only)
    (args.output / f"{stem}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (args.output / f"{stem}.md").write_text(markdown(report))
    log(f"wrote {args.output / f'{stem}.md'} and {stem}.json")
    print("\n".join(table(report)), flush=True)
    print(goals, flush=True)
    print(cpu_line, flush=True)
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
