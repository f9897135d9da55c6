"""`crawl --workers N`'s worker processes on this machine, and Ctrl-C or SIGTERM passed on to
them.

Ctrl-C in a terminal reaches the whole process group, but a SIGTERM (a service manager, `kill`)
reaches this process only: every signal it gets is sent on to each worker still running, as
SIGTERM, which a worker takes as its own stop (it keeps what it stored and gives its batch
back). The command then waits for them, however long their stop takes (each is bounded by the
crawl's grace), so that it never leaves a worker behind or reports before they end.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import attrs
import trio

T = TypeVar("T")


async def unless_interrupted(fn: Callable[[], Awaitable[T]]) -> tuple[T | None, bool]:
    """`await fn()` (the planning) with Ctrl-C and SIGTERM cancelling it: its result, and
    whether a signal came (then the result is None: the planning session ended cancelled)."""
    result: T | None = None
    interrupted = False
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                nonlocal interrupted
                async for _ in signals:
                    interrupted = True
                    nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            result = await fn()
            nursery.cancel_scope.cancel()
    return (None if interrupted else result), interrupted


@attrs.define
class WorkerProcess:
    """One worker: its number, its exit status and what it printed."""

    number: int
    returncode: int | None = None
    output: bytearray = attrs.field(factory=bytearray)

    @property
    def lines(self) -> list[str]:
        return self.output.decode(errors="replace").splitlines()


@attrs.define
class Workers:
    """The worker processes once every one has ended, and whether a signal stopped them."""

    processes: list[WorkerProcess]
    interrupted: bool = False


async def run_workers(command: Sequence[str], count: int, name: str) -> Workers:
    """Run `count` processes of `command` (each with ``--name {name}-w{number}``) to their end."""
    workers = Workers([WorkerProcess(number) for number in range(1, count + 1)])
    running: list[trio.Process] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def pass_on() -> None:
                async for _ in signals:
                    workers.interrupted = True
                    for process in running:
                        if process.returncode is None:
                            process.send_signal(signal.SIGTERM)

            async def run(worker: WorkerProcess) -> None:
                process = await trio.lowlevel.open_process(
                    [*command, "--name", f"{name}-w{worker.number}"], stdout=subprocess.PIPE
                )
                running.append(process)
                if workers.interrupted:  # a signal came while it started
                    process.send_signal(signal.SIGTERM)
                try:
                    assert process.stdout is not None
                    while chunk := await process.stdout.receive_some():
                        worker.output += chunk
                    worker.returncode = await process.wait()
                finally:
                    if process.returncode is None:  # this command was cancelled or failed
                        process.kill()
                        with trio.CancelScope(shield=True):
                            await process.wait()

            nursery.start_soon(pass_on)
            async with trio.open_nursery() as processes:
                for worker in workers.processes:
                    processes.start_soon(run, worker)
            nursery.cancel_scope.cancel()
    return workers
