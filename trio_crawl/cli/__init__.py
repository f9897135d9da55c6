"""The `trio-crawl` command: demo, crawl, export, status, web, serve-demo.

Exit status: 0 when the crawl completed (even partially: failed items are listed), 1 when it
failed, 3 when it timed out, 130 when it was cancelled (Ctrl-C), 2 for bad arguments or config
(one line naming the problem).

`commands` picks the command and turns how it ended into the exit status, `parser` reads the
arguments, `runs` runs a crawl or the demo under the one Ctrl-C policy, `logs` writes the logs.
"""

from __future__ import annotations

from .commands import EXIT_CODES as EXIT_CODES
from .commands import main as main
from .parser import UsageError as UsageError
from .parser import base_url as base_url
from .parser import build_parser as build_parser
from .parser import listen_port as listen_port
from .parser import positive_int as positive_int
