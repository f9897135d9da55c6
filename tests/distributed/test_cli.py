"""`trio-crawl plan` and `trio-crawl worker` as processes: two workers started before the
plan wait for it and crawl the catalogue between them; a worker started after the end exits
at once, printing the whole crawl's status."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.demo import DemoCatalogue, serve_demo

from ..e2e.test_interrupted_runs import _select, child_env

pytestmark = pytest.mark.slow

PRODUCTS = 60
GUARD_SECS = 90  # against a hang, not a wait for work


CONFIG = """\
[crawl]
strategy = "full"
batch_size = 1

[rate_limit]
requests_per_second = 0
"""


def _command(
    name: str, base_url: str, db: str, redis_url: str, prefix: str, config: Path
) -> list[str]:
    return [
        sys.executable, "-m", "trio_crawl", name, "--base-url", base_url, "--db", db,
        "--redis", redis_url, "--queue", prefix, "--config", str(config),
    ]  # fmt: skip


async def _run(command: list[str], *extra: str) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        [*command, *extra], capture_stdout=True, stderr=subprocess.STDOUT, check=False,
        env=child_env(),
    )  # fmt: skip


async def test_plan_and_workers_from_the_command_line(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    catalogue = DemoCatalogue(products=PRODUCTS, seed=2)
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve_demo, catalogue))
            worker = _command("worker", server.base_url, db, redis_url, prefix, config)
            plan = _command("plan", server.base_url, db, redis_url, prefix, config)
            done: list[subprocess.CompletedProcess[bytes]] = []

            async def run_worker(name: str) -> None:
                done.append(await _run(worker, "--name", name, "--lease-secs", "5"))

            async with trio.open_nursery() as workers:
                workers.start_soon(run_worker, "early-1")
                workers.start_soon(run_worker, "early-2")
                planned = await _run(plan)
                assert planned.returncode == 0, planned.stdout.decode()
            late = await _run(worker, "--name", "late")
            nursery.cancel_scope.cancel()
    for finished in done:
        assert finished.returncode == 0, finished.stdout.decode()[-2000:]
    assert "enqueued" in planned.stdout.decode()
    _, rows = _select(db, "SELECT COUNT(*) FROM matter")
    assert rows == [(PRODUCTS,)]
    taken = [int(out.stdout.decode().split("taken ")[1].split(",")[0]) for out in done]
    assert sum(taken) == PRODUCTS // 12  # one list page a batch
    output = late.stdout.decode()
    assert late.returncode == 0, output
    assert "worker finished: consumer late, taken 0" in output
    # The whole crawl's summary: every worker's products.
    assert re.search(rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored", output)


async def test_crawl_with_workers_plans_runs_them_and_prints_one_status(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=PRODUCTS, seed=4))
            )
            crawled = await _run(
                _command("crawl", server.base_url, db, redis_url, prefix, config),
                "--workers", "2",
            )  # fmt: skip
            nursery.cancel_scope.cancel()
    output = crawled.stdout.decode()
    assert crawled.returncode == 0, output[-3000:]
    tallies = re.findall(
        r"^w(\d): exit 0; worker finished: consumer \S+, taken (\d+)", output, re.M
    )
    assert sorted(number for number, _ in tallies) == ["1", "2"], output
    assert sum(int(taken) for _, taken in tallies) == PRODUCTS // 12
    whole = rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored, 0 failed"
    assert len(re.findall(whole, output)) == 1, output
    _, rows = _select(db, "SELECT COUNT(*) FROM matter")
    assert rows == [(PRODUCTS,)]
    # One crawl, one run row (not one for the plan and one for each batch).
    _, rows = _select(db, "SELECT status, products_saved, products_failed FROM crawl_runs")
    assert rows == [("completed", PRODUCTS, 0)]


@pytest.mark.parametrize("option", [["--workers", "2"], ["--redis", "redis://127.0.0.1:1/0"]])
def test_workers_and_redis_go_together(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trio_crawl.cli import main

    db = str(tmp_path / "x.db")
    assert main(["crawl", "--base-url", "http://127.0.0.1:9", "--db", db, *option]) == 2
    assert "--workers N and --redis URL go together" in capsys.readouterr().err
    assert not Path(db).exists()


async def test_crawl_with_workers_exits_1_when_the_store_says_products_are_left(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    """Every worker ends well (exit 0) when the queue is finished, even when some products
    failed for good: the whole crawl's exit status must say what the store says, not what
    the workers say."""
    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    catalogue = DemoCatalogue(products=PRODUCTS, seed=4)
    catalogue.break_links([catalogue.serial_at(5)])  # listed, its detail page a 404
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve_demo, catalogue))
            crawled = await _run(
                _command("crawl", server.base_url, db, redis_url, prefix, config),
                "--workers", "2",
            )  # fmt: skip
            nursery.cancel_scope.cancel()
    output = crawled.stdout.decode()
    assert re.findall(r"^w\d: exit 0;", output, re.M) == ["w1: exit 0;", "w2: exit 0;"], output
    # The summary accounts for every product of the plan: stored + failed for good = planned.
    assert re.search(
        rf"\) partial: {PRODUCTS - 1} of {PRODUCTS} planned products stored, 1 failed for good,"
        " 0 unaccounted",
        output,
    ), output
    assert re.search(r"failed: \S+/csa_product/\S+ \(product_details client_error", output), output
    assert crawled.returncode == 1, output[-3000:]


def _status(db: str, redis_url: str, prefix: str) -> list[str]:
    return [
        sys.executable, "-m", "trio_crawl", "status", "--db", db, "--redis", redis_url,
        "--queue", prefix,
    ]  # fmt: skip


async def test_plan_twice_enqueues_once_and_status_shows_the_crawl_and_its_workers(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    """A second `plan` of a crawl planned and not finished enqueues nothing; `status` shows
    the crawl's progress and every worker that beats, live or silent past its lease; once the
    workers are done, one summary, one run row."""
    import time

    from trio_crawl.distributed.client import connect
    from trio_crawl.distributed.heartbeat import WorkerState, beat
    from trio_crawl.distributed.queue import WorkQueue

    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery, connect(redis_url) as client:
            queue = WorkQueue(client, prefix)
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=PRODUCTS, seed=9))
            )
            plan = _command("plan", server.base_url, db, redis_url, prefix, config)
            first, second = await _run(plan), await _run(plan)
            entries = (await queue.progress()).entries
            # Two workers' beats as a worker writes them: one just now, one two minutes ago.
            await beat(queue, WorkerState("alive", 60.0), time.time())
            await beat(queue, WorkerState("silent", 60.0), time.time() - 120)
            during = await _run(_status(db, redis_url, prefix))
            await client.delete([f"{prefix}:workers"])
            worker = _command("worker", server.base_url, db, redis_url, prefix, config)
            finished = await _run(worker, "--name", "only")
            after = await _run(_status(db, redis_url, prefix))
            nursery.cancel_scope.cancel()
    assert first.returncode == 0, first.stdout.decode()
    assert second.returncode == 0, second.stdout.decode()
    assert "planned and not finished" in second.stdout.decode()
    assert entries == PRODUCTS // 12  # not twice as many
    shown = during.stdout.decode()
    assert during.returncode == 0, shown
    assert "running: 0 batches in workers' hands" in shown, shown
    assert "workers: 1 live, 1 lost" in shown, shown
    assert re.search(r"alive on \S+ pid \d+: live, last beat \d+\.\d s ago", shown), shown
    assert re.search(r"silent on \S+ pid \d+: LOST \(silent past its lease\)", shown), shown
    assert finished.returncode == 0, finished.stdout.decode()
    shown = after.stdout.decode()
    assert re.search(rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored", shown)
    assert "workers: 0 live, 0 lost" in shown, shown  # the worker left cleanly
    _, rows = _select(db, "SELECT status, products_saved FROM crawl_runs")
    assert rows == [("completed", PRODUCTS)]  # one crawl, one run row


async def test_an_item_inserted_after_plan_keeps_the_crawl_from_completed(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = pg_server.new_database()
    catalogue = DemoCatalogue(products=PRODUCTS, seed=10)
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve_demo, catalogue))
            planned = await _run(_command("plan", server.base_url, db, redis_url, prefix, config))
            catalogue.insert(25)  # the catalogue moves under the crawl
            worker = _command("worker", server.base_url, db, redis_url, prefix, config)
            worked = await _run(worker, "--name", "w")
            nursery.cancel_scope.cancel()
    assert planned.returncode == 0, planned.stdout.decode()
    output = worked.stdout.decode()
    assert worked.returncode == 0, output
    assert re.search(r"\) partial: ", output), output
    assert "settle: the catalogue changed during the crawl" in output, output
    _, rows = _select(db, "SELECT status FROM crawl_runs")
    assert rows == [("partial",)]


@pytest.mark.parametrize("command", ["plan", "worker", "crawl"])
async def test_a_redis_that_is_not_there_is_one_line_and_exit_2(
    command: str, tmp_path: Path
) -> None:
    """No server listens on the port: the command says so in one line, with no traceback."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    db = tmp_path / "crawl.db"
    redis_url = f"redis://127.0.0.1:{port}/0"
    extra = ["--workers", "2"] if command == "crawl" else []
    with trio.fail_after(GUARD_SECS):
        done = await _run(
            _command(command, "http://127.0.0.1:9", str(db), redis_url, "gone", config), *extra
        )
    output = done.stdout.decode()
    assert done.returncode == 2, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"cannot reach Redis at {redis_url}" in lines[0], output
