"""A real PostgreSQL server for the tests, started once per test session.

`initdb` into a fresh temporary directory, `pg_ctl start` on a free 127.0.0.1 port (and a unix
socket in that directory), password authentication over TCP. PostgreSQL refuses to run as root
(CI runs as root): then the server runs as the `postgres` system user the Debian package
creates, through `runuser`, and the directory is that user's. Each test asks for a database of
its own (`new_database`: ``CREATE DATABASE … TEMPLATE template0``, which copies a few files).

Anything that makes a server impossible (no PostgreSQL, no unprivileged user, no psycopg) is
`ServerUnavailable`, whose message the fixture turns into a loud skip.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

USER = "trio"
PASSWORD = "trio-secret"
START_TIMEOUT_SECS = 60


class ServerUnavailable(Exception):
    """No PostgreSQL server can be started on this machine (the message says why)."""


def find_bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`: on PATH, else the newest Debian cluster's."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise ServerUnavailable(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin);"
            " `make test` installs it with apt where it can"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One server in its own directory; `start()`, `stop()`, and `kill()`/`start()` again (the
    same port and data) for the tests of a server lost mid-crawl."""

    def __init__(self, host: str = "127.0.0.1", clients: str | None = None) -> None:
        """Listening on `host`; `clients` (a network, e.g. 10.1.2.0/24) may log in over TCP
        too, besides loopback (the tests of workers in network namespaces of their own)."""
        self.host = host
        self.clients = clients
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            missing = f"psycopg is not installed ({exc}): pip install '.[postgres]'"
            raise ServerUnavailable(missing) from None
        self.bin = find_bin_dir()
        self._prefix: list[str] = []
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerUnavailable(
                    "running as root and there is no `postgres` user to run PostgreSQL as"
                    " (PostgreSQL refuses root)"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServerUnavailable("running as root and `runuser` is missing")
            self._prefix = [runuser, "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="trio-crawl-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self._names = itertools.count(1)
        self.running = False
        if self._owner is not None:
            os.chown(self.dir, self._owner.pw_uid, self._owner.pw_gid)
        os.chmod(self.dir, 0o700)

    def _run(self, *command: str, timeout: float = START_TIMEOUT_SECS) -> None:
        done = subprocess.run(
            [*self._prefix, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.dir,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServerUnavailable(
                f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
                f" {done.stdout.strip()[-500:]} {log}"
            )

    def init(self) -> None:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data),
            "-U", USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        if self.clients is not None:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.clients} scram-sha-256\n")

    def start(self) -> None:
        # fsync off: the tests never crash the machine, only the server, and the OS keeps what
        # was written. synchronous_commit stays on: with it off, a server killed mid-crawl
        # (tests/e2e/test_postgres_server_lost.py) loses commits the crawl was told are done.
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.dir}"
            " -c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", str(START_TIMEOUT_SECS), "start",
        )  # fmt: skip
        self.running = True

    def kill(self) -> None:
        """Stop at once, as a crash would (`-m immediate`: no shutdown checkpoint)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def stop(self) -> None:
        if self.running:
            with contextlib.suppress(ServerUnavailable, subprocess.TimeoutExpired):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
            self.running = False

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{self.port}/{database}"

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self, prefix: str = "t") -> str:
        """A new empty database's URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def server_pids(self) -> list[int]:
        """The pids of the server's processes (the postmaster and its children)."""
        pid_file = self.data / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [postmaster]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text()
            pids += [int(pid) for pid in children.split()]
        return pids


def start_server(host: str = "127.0.0.1", clients: str | None = None) -> PostgresServer:
    """A started server, or `ServerUnavailable` (its directory removed) saying why not."""
    server = PostgresServer(host, clients)
    try:
        server.init()
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def own_server() -> Iterator[PostgresServer]:
    """A server of one test's own (one it kills, say), closed after it; where none can be
    started, `pytest.skip` saying so (never a silent skip)."""
    import pytest

    try:
        server = start_server()
    except ServerUnavailable as exc:
        pytest.skip(f"PostgreSQL tests SKIPPED, no server: {' '.join(str(exc).split())}")
    try:
        yield server
    finally:
        server.close()


_shared: PostgresServer | None = None
_shared_error: str | None = None


def shared_server() -> PostgresServer:
    """The session's server, started on first use; where none can be started, `pytest.skip`
    with the reason (and a warning in the summary: never a silent skip). `close_shared` stops
    it at the end of the session."""
    import warnings

    import pytest

    global _shared, _shared_error
    if _shared is None and _shared_error is None:
        try:
            _shared = start_server()
        except (ServerUnavailable, OSError, subprocess.SubprocessError) as exc:
            _shared_error = " ".join(str(exc).split())
            warnings.warn(f"PostgreSQL tests SKIPPED: {_shared_error}", stacklevel=1)
    if _shared is None:
        pytest.skip(f"PostgreSQL tests SKIPPED, no server: {_shared_error}")
    return _shared


def shared_note() -> str | None:
    """Where this session's PostgreSQL tests ran (or why they were skipped); None if no test
    asked for the server."""
    if _shared_error is not None:
        return f"PostgreSQL tests SKIPPED: {_shared_error}"
    if _shared is None:
        return None
    version = subprocess.run(
        [str(_shared.bin / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    user = "postgres (runuser)" if _shared._owner is not None else pwd.getpwuid(os.getuid())[0]
    return (
        f"PostgreSQL tests ran against {version or _shared.bin} on host {socket.gethostname()},"
        f" server run as {user}, 127.0.0.1:{_shared.port}"
    )


def close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None
