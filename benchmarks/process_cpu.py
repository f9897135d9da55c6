"""CPU seconds of a contender and of every process it started, whoever reaped them.

`os.wait4` on a contender reports its own CPU plus that of the children it waited for; a child it
left running (a worker pool torn down without a wait, a daemon) is reparented and its CPU is lost
to the measure. Made a *child subreaper* (Linux `prctl`), this process inherits those orphans
instead of init, so `reap_orphans` can wait for each one and add its CPU: the total is then every
process the contender started, the way a machine's owner pays for it.

`TreeSampler` reads ``/proc/<pid>/task/<tid>/stat`` of a process tree while it runs, so a run can
say where its CPU went (the crawl's thread, the SQLite thread, the parse process …). It keeps
each thread's last reading, so a thread that ends between two samples loses at most one period.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def become_subreaper() -> bool:
    """Adopt the orphans of our descendants (Linux only); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` now (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read_stat(entry / "stat")
        if stat is not None and stat.ppid == pid:
            found.append(int(entry.name))
    return found


def reap_orphans(exclude: Iterable[int], patience: float = 10.0) -> tuple[float, int]:
    """Wait for the processes left to us (our children but not those in `exclude`, such as the
    site's server), killing those still running after `patience` seconds; (their CPU seconds,
    how many)."""
    skip = set(exclude)
    cpu, count = 0.0, 0
    deadline = time.monotonic() + patience
    for pid in children_of(os.getpid()):
        if pid in skip:
            continue
        while True:
            try:
                done, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                break  # not ours to wait for after all (a thread's child, reaped meanwhile)
            if done:
                cpu += usage.ru_utime + usage.ru_stime
                count += 1
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + patience
            time.sleep(0.02)
    return cpu, count


@dataclass(frozen=True)
class Stat:
    pid: int
    ppid: int
    comm: str
    cpu: float
    """user + system seconds."""
    system: float = 0.0
    """Of which system (kernel) seconds."""


def _read_stat(path: Path) -> Stat | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    # comm is in parentheses and may hold spaces or parentheses itself: split at the last ")".
    head, _, rest = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    fields = rest.split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    user, system = int(fields[11]) / TICKS, int(fields[12]) / TICKS
    return Stat(int(pid_text), int(fields[1]), comm, user + system, system)


@dataclass(frozen=True)
class ThreadCpu:
    pid: int
    tid: int
    process: str
    """The process's command name (``comm`` of its main thread)."""
    thread: str
    cpu: float
    system: float = 0.0
    """Of which system (kernel) seconds."""


class TreeSampler:
    """Samples the CPU of every thread of `root` and its descendants, every `period` seconds,
    until stopped; `threads()` gives each thread's last reading."""

    def __init__(self, root: int, period: float = 0.05) -> None:
        self.root = root
        self.period = period
        self._last: dict[tuple[int, int], ThreadCpu] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def threads(self) -> list[ThreadCpu]:
        return sorted(self._last.values(), key=lambda t: -t.cpu)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period)

    def sample(self) -> None:
        for pid in self._tree():
            name = _read_stat(Path(f"/proc/{pid}/stat"))
            try:
                tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                continue
            for tid in tids:
                stat = _read_stat(Path(f"/proc/{pid}/task/{tid}/stat"))
                if stat is not None:
                    process = name.comm if name is not None else "?"
                    self._last[pid, tid] = ThreadCpu(
                        pid, tid, process, stat.comm, stat.cpu, stat.system
                    )

    def _tree(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = _read_stat(entry / "stat")
                if stat is not None:
                    parents[stat.pid] = stat.ppid
        tree, frontier = [], [self.root]
        while frontier:
            pid = frontier.pop()
            if pid in parents or pid == self.root:
                tree.append(pid)
            frontier.extend(child for child, parent in parents.items() if parent == pid)
        return tree
