"""The PostgreSQL server lost in the middle of a crawl: a real ``trio-crawl crawl`` process
writes into a server of the test's own, which is stopped as a crash would stop it
(``pg_ctl stop -m immediate``) once the crawl has saved some products. The crawl must end with a
clear error, neither storing a product twice nor marking one done that is not stored; with the
server back, one rerun completes the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trio

from .. import postgres_server
from ..postgres_server import PostgresServer
from .conftest import demo_server
from .test_interrupted_runs import (
    GUARD_SECS,
    PRODUCTS,
    catalogue,
    log_tail,
    run_crawl,
    saved_now,
    start_crawl,
    stop,
    wait_until_saved,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own: it is killed, and must not take the session's with it."""
    yield from postgres_server.own_server()


def counts(db: str) -> dict[str, int]:
    with psycopg.connect(db, autocommit=True) as connection:
        row = connection.execute(
            "SELECT (SELECT COUNT(*) FROM matter),"
            " (SELECT COUNT(DISTINCT (page_id, index_in_page)) FROM matter),"
            " (SELECT COUNT(*) FROM crawl_ledger WHERE item = 'product' AND state = 'done'),"
            " (SELECT COUNT(*) FROM crawl_ledger AS l WHERE l.item = 'product'"
            "  AND l.state = 'done' AND NOT EXISTS"
            "  (SELECT 1 FROM matter AS m WHERE m.url = l.url))"
        ).fetchone()
        assert row is not None
        rows, positions, done, done_not_stored = row
        runs = [
            status for (status,) in connection.execute(
                "SELECT status FROM crawl_runs ORDER BY started_at"
            )
        ]  # fmt: skip
    return {
        "rows": rows,
        "positions": positions,
        "done": done,
        "done_not_stored": done_not_stored,
        "runs": len(runs),
        "completed": runs.count("completed"),
    }


async def test_a_server_killed_mid_crawl_ends_it_clearly_and_one_rerun_completes_the_catalogue(
    tmp_path: Path, own_server: PostgresServer
) -> None:
    db = own_server.new_database()
    config = write_config(tmp_path)
    log = tmp_path / "lost.log"
    async with demo_server(catalogue()) as server:
        with trio.fail_after(GUARD_SECS):
            process = await start_crawl(server.base_url, db, config, log)
            try:
                await wait_until_saved(db, PRODUCTS // 4, process, log)
                await trio.to_thread.run_sync(own_server.kill)
                exit_status = await process.wait()
            finally:
                await stop(process)
        output = log.read_text(errors="replace")
        assert "Traceback" not in output, log_tail(log, 40)
        # The crawl went on without its database: every save from then on failed, and it says
        # so (it ends partial, listing the products it could not save, or failed).
        assert exit_status in (0, 1), log_tail(log, 40)
        assert "database_error" in output, log_tail(log, 40)

        await trio.to_thread.run_sync(own_server.start)
        before = counts(db)
        assert 0 < before["rows"] < PRODUCTS
        assert before["rows"] == before["positions"] == before["done"]
        assert before["done_not_stored"] == 0

        rerun_log = tmp_path / "rerun.log"
        assert await run_crawl(server.base_url, db, config, rerun_log) == 0, log_tail(rerun_log)
    after = counts(db)
    assert after["rows"] == after["positions"] == after["done"] == PRODUCTS
    assert after["done_not_stored"] == 0
    assert after["completed"] == 1 and after["runs"] == 2
    assert saved_now(db) == PRODUCTS


RETRY_DATABASE_ERRORS = """
[retry.saving]
retry_on = ["database_busy", "database_error"]
max_attempts = 30
base_delay_ms = 100
max_delay_ms = 1000
"""


async def test_a_server_restarted_mid_crawl_is_written_to_again_when_saving_retries_database_errors(
    tmp_path: Path, own_server: PostgresServer
) -> None:
    db = own_server.new_database()
    config = write_config(tmp_path)
    config.write_text(config.read_text() + RETRY_DATABASE_ERRORS)
    log = tmp_path / "restarted.log"
    async with demo_server(catalogue()) as server:
        with trio.fail_after(GUARD_SECS):
            process = await start_crawl(server.base_url, db, config, log)
            try:
                await wait_until_saved(db, PRODUCTS // 4, process, log)
                await trio.to_thread.run_sync(own_server.kill)
                await trio.to_thread.run_sync(own_server.start)
                exit_status = await process.wait()
            finally:
                await stop(process)
    output = log.read_text(errors="replace")
    assert exit_status == 0, log_tail(log, 40)
    assert "Traceback" not in output, log_tail(log, 40)
    after = counts(db)
    assert after["rows"] == after["positions"] == after["done"] == PRODUCTS, log_tail(log, 40)
    assert after["done_not_stored"] == 0
    assert (after["runs"], after["completed"]) == (1, 1), log_tail(log, 40)
