"""The demo server's ``--latency MS`` option, shared by ``trio-crawl serve-demo`` and
``python -m trio_crawl.demo.server`` without importing the server into the command's parser."""

from __future__ import annotations

import argparse

MAX_LATENCY_MS = 60_000
"""A minute: longer is no site's latency, only a typo."""


def add_latency_option(parser: argparse.ArgumentParser) -> None:
    """``--latency MS``: every response waits MS milliseconds (a slow site)."""

    def milliseconds(text: str) -> float:
        value = float(text)
        if not 0 <= value <= MAX_LATENCY_MS:
            raise argparse.ArgumentTypeError(
                f"{text} is not a latency in milliseconds from 0 to {MAX_LATENCY_MS}"
            )
        return value

    parser.add_argument(
        "--latency",
        type=milliseconds,
        default=0,
        metavar="MS",
        help="delay every response by MS milliseconds (0)",
    )
