"""What the steering tests share: the `trio-crawl` commands of one distributed crawl as real
processes, and waits for them bounded on the real clock (the work is in other processes, so
no mock clock can stand in)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from ..e2e.test_interrupted_runs import _select, child_env

CONFIG = """\
[crawl]
strategy = "full"
batch_size = 1
request_timeout_secs = 10

[rate_limit]
requests_per_second = {rate}

[concurrency]
parse_processes = 0
"""

WORKTREE = Path(__file__).parents[2]


@attrs.define
class Crawl:
    """One crawl's command lines: its demo server, database, Redis prefix and config."""

    base_url: str
    db: str
    redis_url: str
    prefix: str
    config: Path

    def command(self, name: str, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "trio_crawl", name, "--base-url", self.base_url,
            "--db", self.db, "--redis", self.redis_url, "--queue", self.prefix,
            "--config", str(self.config), *extra,
        ]  # fmt: skip

    def steer(self, action: str, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "trio_crawl", action, "--redis", self.redis_url,
            "--queue", self.prefix, *extra,
        ]  # fmt: skip


def write_config(directory: Path, rate: int) -> Path:
    path = directory / "crawl.toml"
    path.write_text(CONFIG.format(rate=rate))
    return path


async def run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        command, capture_stdout=True, stderr=subprocess.STDOUT, check=False, env=child_env()
    )


async def start(command: list[str], log: Path) -> trio.Process:
    return await trio.lowlevel.open_process(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=child_env(), cwd=WORKTREE
    )


# `trio-crawl ACTION …` with its start-up done before the moment it is needed: the command's
# own entry point, run once a line arrives on its standard input.
WARM = (
    "import sys\n"
    "import trio_crawl.cli, trio_crawl.cli.steer, trio_crawl.distributed.control\n"
    "from trio_crawl.__main__ import run\n"
    "sys.argv[0] = 'trio-crawl'\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "sys.exit(run())\n"
)


class Warm:
    """A steering command started (imports and all) ahead of its moment, so that the moment
    is not its start-up later: a crawl paced by its rate limit can end in that time on a
    busy machine, and then there is nothing left to pause."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, command: list[str]) -> Warm:
        assert command[1:3] == ["-m", "trio_crawl"], command
        process = await trio.lowlevel.open_process(
            [command[0], "-c", WARM, *command[3:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_env(),
        )
        return cls(process)

    async def ready(self) -> None:
        assert self.process.stdout is not None
        said = b""
        while not said.endswith(b"\n"):
            chunk = await self.process.stdout.receive_some(64)
            assert chunk, said
            said += chunk
        assert said == b"ready\n", said

    async def run(self) -> subprocess.CompletedProcess[bytes]:
        """Run the command now; its exit status and output, as `run` gives them."""
        assert self.process.stdin is not None and self.process.stdout is not None
        await self.process.stdin.send_all(b"go\n")
        output = b""
        while chunk := await self.process.stdout.receive_some(65536):
            output += chunk
        code = await self.process.wait()
        return subprocess.CompletedProcess(self.process.args, code, output)


async def until(check: Callable[[], bool], what: str, secs: float = 60.0) -> None:
    """Wait (polling, real time, bounded) until `check()` holds."""
    with trio.move_on_after(secs):
        for _ in iter(int, 1):  # until it holds or the time is up
            if check():
                return
            await trio.sleep(0.02)
    raise AssertionError(f"not within {secs:g}s: {what}")


def stored(db: str) -> int:
    _, rows = _select(db, "SELECT COUNT(*) FROM matter")
    return int(rows[0][0])


def continue_command(output: str) -> list[str]:
    """The command after the last "continue with:", runnable here (`trio-crawl` as this
    interpreter's module, the password the printed line leaves out put back by the caller)."""
    line = [line for line in output.splitlines() if "continue with: " in line][-1]
    words = shlex.split(line.split("continue with: ", 1)[1])
    assert words[0] == "trio-crawl", line
    return [sys.executable, "-m", "trio_crawl", *words[1:]]


async def pending_idle(redis_url: str, prefix: str) -> dict[str, int]:
    """Each pending entry of the crawl's stream and how long it has been idle (ms)."""
    import coredis.response.types

    from trio_crawl.distributed.client import connect
    from trio_crawl.distributed.queue import GROUP, WorkQueue

    async with connect(redis_url) as client:
        queue = WorkQueue(client, prefix)
        pending = await client.xpending(queue.stream, GROUP, start="-", end="+", count=1000)
    return {
        str(entry.identifier): int(entry.idle)
        for entry in pending
        if isinstance(entry, coredis.response.types.StreamPendingExt)
    }
