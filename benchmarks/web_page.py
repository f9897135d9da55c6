"""The web page's cost: demo-crawl throughput with and without a page open, in one run.

    .venv/bin/python benchmarks/web_page.py [--products 3000] [--rounds 3] [--faults none|low]

Each round runs `trio-crawl demo --no-dashboard` three times, in turn: as it is; with
``--web 0`` and one event stream read by a plain HTTP client (the server's own cost); and with
``--web 0`` and a real headless Chromium (Playwright, the OS's /usr/bin/chromium) showing the
page for the whole crawl (the server's cost plus the browser's, on the same cores).
Throughput is the crawl's own figure (products saved / its elapsed, from the summary it
prints); the medians of the rounds are compared. Results go to stdout and to
benchmarks/results/web_page.json.
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
import threading
import time
import urllib.request
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


def read_stream(url: str, received: list[int]) -> None:
    """Read a page's event stream to its end, as fast as it comes."""
    base, _, token = url.partition("/?token=")
    with urllib.request.urlopen(f"{base}/events?token={token}", timeout=60) as response:
        while chunk := response.read1(65536):
            received[0] += len(chunk)


def crawl(products: int, faults: str, mode: str, browser: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as where:
        args = [str(COMMAND), "demo", "--no-dashboard", "--products", str(products)]
        args += ["--faults", faults, "--db", str(Path(where) / "demo.db")]
        if mode != "without page":
            args += ["--web", "0"]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}
        )
        assert process.stdout is not None
        page = None
        shown = ""
        reader = None
        received = [0]
        if mode != "without page":
            for line in process.stdout:
                found = re.search(r"live page: (\S+)", line)
                if found:
                    if mode == "with page":
                        page = browser.new_page()
                        page.goto(found.group(1))
                    else:
                        reader = threading.Thread(
                            target=read_stream, args=(found.group(1), received)
                        )
                        reader.start()
                    break
        out = process.stdout.read()
        process.wait()
        if reader is not None:
            reader.join(10)
            shown = f"{received[0]} bytes of events"
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

    runs: dict[str, list[dict[str, Any]]] = {
        "without page": [],
        "with stream": [],
        "with page": [],
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for round_ in range(1, args.rounds + 1):
            for name in runs:
                result = crawl(args.products, args.faults, name, browser)
                runs[name].append(result)
                print(
                    f"round {round_} {name:>12}: {result['products_per_s']:7.1f} products/s"
                    f" ({result['elapsed']:.2f}s; {result['page_showed'] or 'no page'})",
                    flush=True,
                )
        browser.close()
    medians = {
        name: statistics.median(float(r["products_per_s"]) for r in rs) for name, rs in runs.items()
    }
    base = medians["without page"]
    print(
        f"median: {base:.1f} products/s without a page;"
        f" {medians['with stream']:.1f} with one event stream read"
        f" ({medians['with stream'] / base:.3f}x);"
        f" {medians['with page']:.1f} with Chromium showing the page"
        f" ({medians['with page'] / base:.3f}x)"
    )
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "products": args.products,
        "faults": args.faults,
        "rounds": runs,
        "median_products_per_s": medians,
        "ratio": {name: median / base for name, median in medians.items()},
        "python": sys.version.split()[0],
    }
    out = ROOT / "benchmarks" / "results" / "web_page.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
