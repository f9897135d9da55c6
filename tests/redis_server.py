"""A real redis-server for the tests, started once per test session.

`redis-server` on a free 127.0.0.1 port, in a temporary directory of its own, with nothing
persisted (`--save ''`, `--appendonly no`) unless asked (`persist`, for a test that kills the
server and starts it again): the tests' streams live as long as the session.
Each test gets a key prefix of its own (`RedisServer.new_prefix`), so tests never meet each
other's streams and no test needs to flush the server.

Anything that makes a server impossible (no redis-server, no coredis, a server that does not
answer) is `ServerUnavailable`, whose message the fixture turns into a loud skip.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT_SECS = 20.0


class ServerUnavailable(Exception):
    """No redis-server can be started on this machine (the message says why)."""


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies, so a test
    process killed mid-run (a timeout, xdist losing a worker) leaves no redis-server behind."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server in its own directory; `close()` stops it and removes the directory."""

    def __init__(self, host: str = "127.0.0.1", *, persist: bool = False) -> None:
        self.host = host
        self.persist = persist
        """Keep every write in an append-only file synced at once: a server killed and
        started again (`kill`, `start`) comes back with its streams, as a production one does."""
        try:
            import coredis  # noqa: F401
        except ImportError as exc:
            missing = f"coredis is not installed ({exc}): pip install '.[distributed]'"
            raise ServerUnavailable(missing) from None
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable(
                "redis-server is not installed (not on PATH); `make test` installs it with apt"
                " where it can"
            )
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="trio-crawl-redis-"))
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._prefixes = itertools.count(1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind", self.host,
                "--port", str(self.port),
                "--dir", str(self.dir),
                "--save", "",
                "--appendonly", "yes" if self.persist else "no",
                "--appendfsync", "always",
                "--logfile", str(self.log),
                "--daemonize", "no",
                # Off only off loopback: the tests' namespaced workers come from other hosts.
                "--protected-mode", "yes" if self.host == "127.0.0.1" else "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.dir,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr
                error = stderr.read().decode(errors="replace") if stderr is not None else ""
                log = self.log.read_text(errors="replace")[-1000:] if self.log.exists() else ""
                raise ServerUnavailable(
                    f"redis-server exited ({self.process.returncode}): {error.strip()} {log}"
                )
            if self._answers():
                return
            time.sleep(0.05)  # waiting for a subprocess to listen, bounded
        raise ServerUnavailable(f"redis-server did not answer PING in {START_TIMEOUT_SECS:g}s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server, as a crash or an OOM kill would stop it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def new_prefix(self) -> str:
        """A key prefix no other test of this session uses."""
        return f"t{os.getpid()}-{next(self._prefixes)}"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            with contextlib.suppress(OSError):
                self.process.stderr.close()
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def version(self) -> str:
        return subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()


def start_server(host: str = "127.0.0.1", *, persist: bool = False) -> RedisServer:
    """A started server, or `ServerUnavailable` (its directory removed) saying why not."""
    server = RedisServer(host, persist=persist)
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def own_server(*, persist: bool = False) -> Iterator[RedisServer]:
    """A server of one test's own (one it kills, say), closed after it; where none can be
    started, `pytest.skip` saying so (never a silent skip)."""
    import pytest

    try:
        server = start_server(persist=persist)
    except (ServerUnavailable, OSError) as exc:
        pytest.skip(f"Redis tests SKIPPED, no server: {' '.join(str(exc).split())}")
    try:
        yield server
    finally:
        server.close()


_shared: RedisServer | None = None
_shared_error: str | None = None


def shared_server() -> RedisServer:
    """The session's server, started on first use; where none can be started, `pytest.skip`
    with the reason (and a warning in the summary: never a silent skip)."""
    import warnings

    import pytest

    global _shared, _shared_error
    if _shared is None and _shared_error is None:
        try:
            _shared = start_server()
        except (ServerUnavailable, OSError, subprocess.SubprocessError) as exc:
            _shared_error = " ".join(str(exc).split())
            warnings.warn(f"Redis tests SKIPPED: {_shared_error}", stacklevel=1)
    if _shared is None:
        pytest.skip(f"Redis tests SKIPPED, no server: {_shared_error}")
    return _shared


def shared_note() -> str | None:
    """Where this session's Redis tests ran (or why they were skipped); None if no test asked."""
    if _shared_error is not None:
        return f"Redis tests SKIPPED: {_shared_error}"
    if _shared is None:
        return None
    return f"Redis tests ran against {_shared.version()}, 127.0.0.1:{_shared.port}"


def close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None
