"""What a page costs each contender, in instructions: callgrind counts, not seconds.

    .venv/bin/python benchmarks/instructions.py [--only trio_crawl,raw_trio,aiohttp]
                                                [--small 200] [--large 800]
                                                [--server nginx|demo] [--children]
                                                [--against REV]

Why: this two-core VM shares its cores with nginx and with neighbours, so pages/s of one
contender moves by ±10 % from run to run, more than most single changes are worth. valgrind's
callgrind counts the instructions a process executes in user space, the same count for the
same inputs however busy the machine is. Each contender crawls the benchmark site (nginx,
outside valgrind) twice, at `--small` and at `--large` products; the difference divided by the
difference in pages is the cost of one more page, with the interpreter's start, the imports
and every other fixed cost gone.

Not counted: the kernel's share (socket calls run in the kernel), and how fast the
instructions run (C loops such as the HTML tree build run at a higher rate than the
interpreter's), so a ratio of counts approximates a ratio of speed, it does not replace the
timed run of `run.py`. Under valgrind a crawl runs ~40 times slower; the defaults take a few
minutes per contender. Prints a table; asserts nothing.

``--children`` runs the contender's child processes under callgrind too (trio_crawl's parse
process) and adds their counts: every process's instructions. The children run ~40 times
slower as well, so more pages are parsed in the crawl while its parse process starts; the sum is
still the work of all processes. ``--against REV`` adds trio_crawl as it was at git revision REV
(see ``cpu_budget.py``) for every contender of the project's own interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Sequence

from cpu_budget import exported
from run import (
    BY_NAME,
    compile_bytecode,
    ensure_project_python,
    ensure_venv,
    load_site_module,
    log,
    run_contender,
)

_COLLECTED = re.compile(r"Collected : (\d+)")
_CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


def instructions(
    name: str,
    products: int,
    concurrency: int,
    server: str = "nginx",
    children: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[int, int]:
    """(instructions, pages) of one crawl of a `products`-sized site by contender `name` (with
    `children`, summed over every process it started)."""
    site_module = load_site_module()
    prefix = (*_CALLGRIND, "--trace-children=yes") if children else _CALLGRIND
    with site_module.serve_site(products, server=server, quiet=True) as site:
        result, _, tail = run_contender(
            BY_NAME[name],
            site.base_url,
            concurrency=concurrency,
            timeout=3600,
            prefix=prefix,
            extra_env=env,
            tail_lines=200,
        )
    found = [int(count) for count in _COLLECTED.findall(tail)]
    if result is None or not found:
        raise RuntimeError(f"{name} at {products} products gave no count: {tail[-2000:]}")
    return sum(found), result["list_pages"] + result["details"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="trio_crawl,raw_trio,raw_httpx,aiohttp")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--server", choices=("nginx", "demo"), default="nginx")
    parser.add_argument("--children", action="store_true", help="count child processes too")
    parser.add_argument("--against", help="also trio_crawl at this git revision")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown contenders {unknown}; known: {sorted(BY_NAME)}")
    ensure_project_python()
    compile_bytecode()
    rows = []
    with contextlib.ExitStack() as stack:
        runs: list[tuple[str, str, dict[str, str] | None]] = [(n, n, None) for n in names]
        if args.against:
            folder = stack.enter_context(exported(args.against))
            runs += [
                (f"{n} at {args.against}", n, {"PYTHONPATH": str(folder)})
                for n in names
                if BY_NAME[n].venv is None
            ]
        for title, name, env in runs:
            problem = ensure_venv(BY_NAME[name])
            if problem is not None:
                log(f"{name}: skipped ({problem})")
                continue
            counted = [
                instructions(name, size, args.concurrency, args.server, args.children, env)
                for size in (args.small, args.large)
            ]
            (small, small_pages), (large, large_pages) = counted
            per_page = (large - small) / (large_pages - small_pages)
            rows.append((title, per_page, small - per_page * small_pages))
            log(f"{title}: {per_page / 1e6:.2f} M instructions a page")
    if not rows:
        return 1
    reference, first, _ = rows[0]
    print(f"| contender | M instructions a page | fixed cost (G) | {reference} ÷ it, by count |")
    print("|---|---|---|---|")
    for name, per_page, fixed in rows:
        print(f"| {name} | {per_page / 1e6:.2f} | {fixed / 1e9:.2f} | {per_page / first:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
