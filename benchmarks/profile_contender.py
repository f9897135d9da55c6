"""Where a contender spends its time: sample it with py-spy while it crawls the benchmark site.

    .venv/bin/python benchmarks/profile_contender.py [--contender trio_crawl|trio_crawl_lean|…]
                                                     [--products 4000] [--top 25]

py-spy (and pyinstrument, for the fallback) are installed on first use into
``benchmarks/.venvs/tools``. The contender runs exactly as in run.py, under
``py-spy record --format raw``; the collapsed stacks are summed three ways and printed:
self time by library (httpcore, h11, trio, lxml, trio_crawl.engine, …), self time by function,
and inclusive time by function; then the budget: each sample given to the first of `PARTS`
whose frame it passes through (so each share counts once). The raw stacks are kept in
``benchmarks/.profiles/NAME.txt`` (git-ignored), ready for any collapsed-stack flame graph tool.

If py-spy cannot attach (no ptrace permission), pyinstrument runs inside the contender instead.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

from run import (
    BENCH_DIR,
    BY_NAME,
    VENVS,
    Contender,
    compile_bytecode,
    ensure_project_python,
    ensure_venv,
    load_site_module,
    log,
    run_contender,
)

TOOLS = Contender("tools", "", venv="tools", requirements=("py-spy>=0.3.14", "pyinstrument>=4.6"))
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def library(path: str) -> str:
    """A readable bucket for a source file: a package, a trio_crawl layer, or the stdlib.

    py-spy shortens paths to be relative to their sys.path entry (``httpx/_models.py``,
    ``trio_crawl/sites/matter.py``, ``contextlib.py``); absolute paths are handled too.
    """
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    if path.startswith("<frozen"):
        return "import machinery"
    if path.startswith("<"):
        return "generated code (attrs, dataclasses)"
    parts = path.split("/")
    if parts[0] == "trio_crawl" and len(parts) > 2:
        return f"trio_crawl.{parts[1]}"
    if len(parts) > 1 and not path.startswith("/"):
        stdlib = Path(sysconfig.get_paths()["stdlib"]) / parts[0]
        return f"stdlib {parts[0]}" if stdlib.is_dir() else parts[0]
    name = parts[-1].removesuffix(".py")
    return "benchmarks" if name.startswith("crawl_") or name == "_common" else f"stdlib {name}"


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/trio_crawl/", "/lib/python3.11/", "/benchmarks/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/trio_crawl/":
                path = "trio_crawl/" + path
            break
    return f"{match['function']} ({path})"


PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite thread (the store's writes)", ("WorkerThread._work (trio/_core/_thread_cache.py",)),
    ("events (bus, subscriber)", ("EventBus.emit", "Subscription.", "_emit_progress")),
    (
        "parse: hand-off to the parse process (and pages parsed here while it starts)",
        ("ParsePool.", "Worker.read_loop", "Worker.write_loop"),
    ),
    ("parse: in this thread", ("parse_list (", "parse_detail (")),
    ("planner: list pages read at the start and again at the end", ("CataloguePlanner.",)),
    (
        "HTTP: request, transport, response",
        ("Fetcher.get ", "ClientSession._request", "ClientResponse.read", "_request (aiohttp"),
    ),
    (
        "saving: rows and ledger (this thread's share)",
        ("CatalogueCrawl.saving", "Ledger", "ledger"),
    ),
    ("engine: stages, batches, session", ("trio_crawl/engine/",)),
    ("trio / asyncio: scheduler and I/O waits", ("unrolled_run (trio", "run_forever (asyncio")),
    ("start-up and exit (imports, before and after the crawl)", ("",)),
)
"""A page's work, by where it happens; the first part whose frame a sample passes through gets
it (the SQLite thread first, so its samples are never called HTTP)."""


def budget(raw: str) -> list[tuple[str, float]]:
    """Each of `PARTS` and its share of the samples."""
    counts = collections.Counter[str]()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        total += int(count_text)
        frames = stack.split(";")
        for name, markers in PARTS:
            if any(marker in frame for frame in frames for marker in markers):
                counts[name] += int(count_text)
                break
    return [(name, counts[name] / total if total else 0.0) for name, _ in PARTS]


def summarise(raw: str, top: int) -> str:
    self_by_lib: collections.Counter[str] = collections.Counter()
    self_by_fn: collections.Counter[str] = collections.Counter()
    total_by_fn: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        match = _FRAME.match(leaf)
        self_by_lib[library(match["file"] if match else leaf)] += count
        self_by_fn[short(leaf)] += count
        for name in {short(frame) for frame in frames}:
            total_by_fn[name] += count
    if not total:
        return "no samples"

    def table(title: str, counter: collections.Counter[str]) -> list[str]:
        lines = [title]
        for name, count in counter.most_common(top):
            lines.append(f"  {100 * count / total:5.1f} %  {name}")
        return lines

    out = [f"{total} samples"]
    out += table("self time by library:", self_by_lib)
    out += table("self time by function:", self_by_fn)
    out += table("inclusive time by function:", total_by_fn)
    out.append("budget (each sample once, in the first part it passes through):")
    out += [f"  {100 * share:5.1f} %  {name}" for name, share in budget(raw)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contender", default="trio_crawl", choices=list(BY_NAME))
    parser.add_argument("--products", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL (py-spy --gil): Python's CPU, not waits",
    )
    args = parser.parse_args()
    ensure_project_python()
    problem = ensure_venv(TOOLS)
    if problem:
        sys.exit(f"cannot install py-spy: {problem}")
    py_spy = VENVS / "tools" / "bin" / "py-spy"
    contender = BY_NAME[args.contender]
    problem = ensure_venv(contender)
    if problem:
        sys.exit(f"cannot install {contender.name}: {problem}")
    compile_bytecode()
    site_module = load_site_module()
    with (
        site_module.serve_site(args.products) as site,
        tempfile.TemporaryDirectory() as folder,
    ):
        raw_path = Path(folder) / "stacks.txt"
        prefix = [str(py_spy), "record", "--format", "raw", "--rate", str(args.rate)]
        prefix += ["--gil"] if args.gil else []
        prefix += ["--output", str(raw_path), "--"]
        result, _, tail = run_contender(
            contender, site.base_url, concurrency=args.concurrency, timeout=600, prefix=prefix
        )
        if raw_path.exists() and raw_path.stat().st_size:
            raw = raw_path.read_text()
            print(f"{contender.name} under py-spy: {result}")
            kept = BENCH_DIR / ".profiles" / f"{contender.name}.txt"
            kept.parent.mkdir(exist_ok=True)
            kept.write_text(raw)
            print(summarise(raw, args.top))
            return 0
        log(f"py-spy produced nothing ({tail}); falling back to pyinstrument")
        tools_site = next((VENVS / "tools" / "lib").glob("python3*/site-packages"))
        output = Path(folder) / "pyinstrument.txt"
        result, _, tail = run_contender(
            contender,
            site.base_url,
            concurrency=args.concurrency,
            timeout=600,
            extra_env={"PYTHONPATH": str(tools_site)},
            interpreter_args=("-m", "pyinstrument", "-o", str(output), "-r", "text"),
        )
        print(f"{contender.name} under pyinstrument: {result}")
        print(output.read_text() if output.exists() else f"pyinstrument failed: {tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
