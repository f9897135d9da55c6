"""The web page's cost: demo-crawl throughput with and without a page open, in one run.

    .venv/bin/python benchmarks/web_page.py [--products 3000] [--rounds 3] [--faults none|low]

Each round runs `trio-crawl demo --no-dashboard` twice, in turn: once as it is, once with
``--web 0`` and a real headless Chromium (Playwright, the OS's /usr/bin/chromium) showing the
page for the whole crawl. Throughput is the crawl's own figure (products saved / its elapsed,
from the summary it prints); the medians of the rounds are compared. Results go to stdout and
to benchmarks/results/web_page.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ROOT / ".venv" / "bin" / "trio-crawl"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def summary(output: str) -> dict[str, str]:
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|]", line) if cell.strip()]
        if len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def crawl(products: int, faults: str, browser: Any | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as where:
        args = [str(COMMAND), "demo", "--no-dashboard", "--products", str(products)]
        args += ["--faults", faults, "--db", str(Path(where) / "demo.db")]
        if browser is not None:
            args += ["--web", "0"]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}
        )
        assert process.stdout is not None
        page = None
        shown = ""
        if browser is not None:
            for line in process.stdout:
                found = re.search(r"live page: (\S+)", line)
                if found:
                    page = browser.new_page()
                    page.goto(found.group(1))
                    break
        out = process.stdout.read()
        process.wait()
        if page is not None:
            # What the page showed at the end: proof it followed the crawl to its end.
            shown = page.locator("#products").inner_text()
            page.close()
    rows = summary(out)
    elapsed = float(rows["elapsed"].rstrip("s"))
    saved = int(rows["products saved"])
    return {"elapsed": elapsed, "products_per_s": saved / elapsed, "page_showed": shown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--faults", choices=("none", "low"), default="none")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[dict[str, Any]]] = {"without page": [], "with page": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for round_ in range(1, args.rounds + 1):
            for name in runs:
                result = crawl(args.products, args.faults, browser if name == "with page" else None)
                runs[name].append(result)
                print(
                    f"round {round_} {name:>12}: {result['products_per_s']:7.1f} products/s"
                    f" ({result['elapsed']:.2f}s)",
                    flush=True,
                )
        browser.close()
    medians = {
        name: statistics.median(float(r["products_per_s"]) for r in rs) for name, rs in runs.items()
    }
    ratio = medians["with page"] / medians["without page"]
    print(
        f"median: {medians['without page']:.1f} products/s without a page,"
        f" {medians['with page']:.1f} with one open ({ratio:.3f}x)"
    )
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "products": args.products,
        "faults": args.faults,
        "rounds": runs,
        "median_products_per_s": medians,
        "ratio": ratio,
        "python": sys.version.split()[0],
    }
    out = ROOT / "benchmarks" / "results" / "web_page.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
