"""The `trio-crawl` command's entry point (and ``python -m trio_crawl``).

It imports nothing heavy itself: a Ctrl-C while `trio_crawl.cli` loads (trio, rich, httpx, the
engine: the slowest part of starting) ends the command with its one line and exit status 130,
never with a traceback or a death by signal.
"""

from __future__ import annotations

import sys

from .interrupted import interrupted


def run() -> int:
    try:
        from .cli import main

        return main()
    except KeyboardInterrupt:  # (`main` catches its own, from its first line on)
        return interrupted()


if __name__ == "__main__":
    sys.exit(run())
