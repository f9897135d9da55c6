"""The garbage collector's settings while the command line runs a crawl.

A crawl makes and drops many small containers a page (tasks, coroutines, requests, records),
and with 32 requests in flight many are alive whenever the collector runs: with CPython's
default thresholds it runs every few pages, walks them, promotes the survivors and walks them
again in the older generations, along with every object start-up made (modules, classes,
configs). That was a measurable share of the crawl thread's CPU (`benchmarks/results/latest.md`,
the CPU budget). The command line owns its process, so while a crawl runs it freezes what
start-up made (the collector no longer walks it) and collects the youngest generation less
often; reference cycles are still collected, later. A library user's process is left as it is:
`open_session` never changes these settings.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 10_000
"""Allocations between collections of the youngest generation (CPython's default is 700)."""


@contextlib.contextmanager
def crawl_collector() -> Iterator[None]:
    """Freeze the objects made so far and raise the youngest threshold; both undone on exit
    (the frozen objects go back to the oldest generation)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], YOUNG_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
