"""How the command says that Ctrl-C stopped it: one module that both the entry point (before
anything heavy is imported) and the CLI use, so the line and the status cannot drift apart."""

from __future__ import annotations

import sys


def interrupted() -> int:
    """Say, on one line, that Ctrl-C stopped the command; its exit status (130, as a shell
    reports a command ended by SIGINT)."""
    print("trio-crawl: interrupted", file=sys.stderr)
    return 130
