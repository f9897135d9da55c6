"""Live reload: poll a config file and hand each valid change to the running session.

Polling with `trio.sleep` (rather than inotify or a watcher thread) keeps this pure trio: it is
cancelled with its nursery, and under `MockClock` the tests run it instantly. A file is
considered changed when its ``(st_mtime_ns, st_size)`` differs from the last look, which also
covers a file that disappears and comes back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import trio

from .errors import ConfigError, ConfigProblem
from .loading import load_config
from .model import CrawlConfig

_Fingerprint = tuple[int, int]


def _fingerprint(path: Path) -> _Fingerprint | None:
    """The file's (mtime in ns, size), or None if it cannot be stat-ed (e.g. it is missing).

    A plain `os.stat`: it is a single cheap syscall, and a thread per poll would cost more
    than it saves.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _missing(path: Path) -> ConfigError:
    problem = ConfigProblem(
        path="",
        value=str(path),
        expected="the config file to exist (the session keeps its current config)",
        kind="unreadable",
        detail="file is missing",
    )
    return ConfigError.from_problems([problem])


def _try_load(path: Path, env: Mapping[str, str] | None) -> CrawlConfig | ConfigError:
    try:
        return load_config(path, env=env)
    except ConfigError as exc:
        return exc


async def watch_config(
    path: Path,
    *,
    poll_secs: float,
    on_change: Callable[[CrawlConfig], None],
    on_error: Callable[[ConfigError], None],
    env: Mapping[str, str] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Watch `path` until cancelled, calling `on_change` or `on_error` after each change.

    The file is read once before `task_status.started()`: that content is the baseline (what
    the session started from), so touching the file without changing its meaning reports
    nothing. After each change, a valid config different from the last good one goes to
    `on_change`; an invalid one goes to `on_error` and the last good one stays the baseline, so
    a later fix is reported as a change. A missing file is reported once, not every poll.

    .. versionadded:: 0.1
    """
    if not poll_secs > 0:
        raise ValueError(f"poll_secs must be > 0, got {poll_secs!r}")
    path = Path(path)
    seen = _fingerprint(path)
    first = _try_load(path, env) if seen is not None else None
    last_good = first if isinstance(first, CrawlConfig) else None
    task_status.started()
    while True:
        await trio.sleep(poll_secs)
        current = _fingerprint(path)
        if current == seen:
            continue
        seen = current
        if current is None:
            on_error(_missing(path))
            continue
        loaded = _try_load(path, env)
        if isinstance(loaded, ConfigError):
            on_error(loaded)
        elif loaded != last_good:
            last_good = loaded
            on_change(loaded)
