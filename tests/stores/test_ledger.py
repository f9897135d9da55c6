"""The crawl ledger, on every backend (the `backend` fixture): every state transition, and runs
whose process is gone. SQLite-only: the upgrade of a version-1 file."""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.stores import SqliteStore, liveness, schema
from trio_crawl.stores.ledger import Ledger, LedgerFailure, LedgerPage, LedgerShape, Listed

from ..backends import Backend
from .test_sqlite import page, product

SHAPE = LedgerShape("https://example.test", last_page=3, on_last=12, per_page=12)  # 36 products


def rows(backend: Backend, where: str = "true") -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in backend.rows(f"SELECT * FROM crawl_ledger WHERE {where}")}


def states(backend: Backend, item: str) -> dict[str, str]:
    return {url: row["state"] for url, row in rows(backend, f"item = '{item}'").items()}


def list_pages(shape: LedgerShape, done: frozenset[int] = frozenset()) -> list[LedgerPage]:
    numbers = range(1, shape.last_page + 1)
    return [LedgerPage(p, f"{shape.base_url}/list/{p}", p in done) for p in numbers]


def failure(url: str, item: str = "product", state: str = "failed", **fields: Any) -> Any:
    return LedgerFailure(
        url=url,
        item=item,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        stage=fields.pop("stage", "product_details"),
        kind=fields.pop("kind", "network_timeout"),
        attempts=fields.pop("attempts", 5),
        last_error=fields.pop("last_error", "timed out"),
        **fields,
    )


async def test_the_store_is_a_ledger(backend: Backend) -> None:
    async with backend.open() as store:
        assert isinstance(store, Ledger)
        view = await store.view()
    assert (view.shape, dict(view.done)) == (None, {})


async def test_opening_a_shape_records_it_with_a_pending_row_per_page(backend: Backend) -> None:
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE, done=frozenset({3})), "s1")
        view = await store.view()
    assert view.shape == SHAPE
    assert states(backend, "page") == {
        "https://example.test/list/1": "pending",
        "https://example.test/list/2": "pending",
        "https://example.test/list/3": "done",
    }
    assert {row["total"] for row in rows(backend).values()} == {36}
    assert {row["session_id"] for row in rows(backend).values()} == {"s1"}


async def test_a_page_read_is_done_and_its_products_pending_until_saved(backend: Backend) -> None:
    products = page(0)
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        listed = LedgerPage(3, "https://example.test/list/3")
        await store.page_listed(listed, [p.ref for p in products], 36, "s1")
        # Queued, not a transaction of its own: it goes out with the next write.
        assert states(backend, "page")["https://example.test/list/3"] == "pending"
        assert states(backend, "product") == {}
        await store.record_failures([], "s1")
        assert states(backend, "page")["https://example.test/list/3"] == "done"
        assert set(states(backend, "product").values()) == {"pending"}
        assert dict((await store.view()).done) == {}
        assert await store.save_done(products[:5], "s2") == 5
        view = await store.view()
    assert view.done == {(0, i): products[i].url for i in range(5)}
    product_rows = rows(backend, "item = 'product'")
    assert [product_rows[p.url]["state"] for p in products] == ["done"] * 5 + ["pending"] * 7
    assert {product_rows[p.url]["session_id"] for p in products[:5]} == {"s2"}
    assert (product_rows[products[7].url]["page_id"], product_rows[products[7].url]["page"]) == (
        0,
        3,
    )


async def test_a_done_product_listed_again_stays_done_and_a_repeated_url_counts_once(
    backend: Backend,
) -> None:
    # A rerun lists page 3 again: its stored products must stay done (or it would fetch them
    # all again), the others pending; a url listed twice in one write ends as listed last.
    products = page(0)
    listed = LedgerPage(3, "https://example.test/list/3")
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        await store.page_listed(listed, [p.ref for p in products], 36, "s1")
        assert await store.save_done(products[:4], "s1") == 4
        await store.page_listed(listed, [p.ref for p in products], 36, "s2")
        await store.page_listed(listed, [p.ref for p in products[6:]], 37, "s3")
        await store.record_failures([], "s2")
    product_rows = rows(backend, "item = 'product'")
    assert [product_rows[p.url]["state"] for p in products] == ["done"] * 4 + ["pending"] * 8
    assert [product_rows[p.url]["session_id"] for p in products] == (
        ["s1"] * 4 + ["s2"] * 2 + ["s3"] * 6
    )
    assert {product_rows[p.url]["total"] for p in products[6:]} == {37}


async def test_failures_are_kept_with_kind_attempts_and_error_but_never_undo_done(
    backend: Backend,
) -> None:
    done, lost = product(0, 0), product(0, 1)
    async with backend.open() as store:
        await store.save_done([done], "s1")
        await store.record_failures(
            [
                failure(done.url),
                failure(lost.url, page_id=0, index_in_page=1, kind="server_error", attempts=3),
                failure(
                    "https://example.test/list/2",
                    item="page",
                    state="cancelled",
                    stage="list_pages",
                    kind="cancelled",
                    attempts=0,
                    last_error="cancelled: interrupted by signal",
                    page=2,
                ),
            ],
            "s2",
        )
    kept = rows(backend)
    assert kept[done.url]["state"] == "done"
    assert kept[done.url]["session_id"] == "s1"
    assert {k: kept[lost.url][k] for k in ("state", "stage", "error_kind", "attempts")} == {
        "state": "failed",
        "stage": "product_details",
        "error_kind": "server_error",
        "attempts": 3,
    }
    assert kept[lost.url]["last_error"] == "timed out"
    assert (kept[lost.url]["page_id"], kept[lost.url]["index_in_page"]) == (0, 1)
    page_row = kept["https://example.test/list/2"]
    assert (page_row["item"], page_row["state"], page_row["page"]) == ("page", "cancelled", 2)


async def test_a_failed_product_saved_later_is_done_and_its_error_cleared(backend: Backend) -> None:
    item = product(1, 4)
    async with backend.open() as store:
        await store.record_failures([failure(item.url, page_id=1, index_in_page=4)], "s1")
        await store.save_done([item], "s2")
    row = rows(backend)[item.url]
    assert (row["state"], row["error_kind"], row["last_error"], row["session_id"]) == (
        "done",
        None,
        None,
        "s2",
    )


async def test_a_grown_catalogue_drops_the_old_page_rows_and_keeps_every_product(
    backend: Backend,
) -> None:
    grown = LedgerShape(SHAPE.base_url, last_page=4, on_last=3, per_page=12)  # 39 products
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        await store.save_done(page(0), "s1")
        await store.open_shape(grown, list_pages(grown), "s2")
        view = await store.view()
    assert view.shape == grown
    assert len(view.done) == 12
    assert {row["total"] for row in rows(backend, "item = 'page'").values()} == {39}
    assert len(rows(backend, "item = 'page'")) == 4


async def test_the_same_shape_again_keeps_the_state_of_every_page(backend: Backend) -> None:
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        await store.page_listed(LedgerPage(2, "https://example.test/list/2"), [], 36, "s1")
        await store.open_shape(SHAPE, list_pages(SHAPE, done=frozenset({1})), "s2")
    assert states(backend, "page") == {
        "https://example.test/list/1": "done",
        "https://example.test/list/2": "done",
        "https://example.test/list/3": "pending",
    }


async def test_a_product_whose_position_another_takes_stays_stored_until_a_listing_drops_it(
    backend: Backend,
) -> None:
    old = product(0, 0, url="https://example.test/csa_product/old/")
    new = product(0, 0, url="https://example.test/csa_product/new/")
    async with backend.open() as store:
        await store.save_done([old], "s1")
        await store.save_done([new], "s2")
        assert (await store.view()).stored == {old.url, new.url}
        await store.relist([Listed(new.url, 0, 0, new.ref.id)], True, "s2")
        view = await store.view()
    assert view.done == {(0, 0): new.url}
    assert view.stored == {old.url, new.url}  # kept, marked delisted
    assert rows(backend)[old.url]["state"] == "done"


async def test_relisting_into_a_store_with_no_product_reads_no_listing(backend: Backend) -> None:
    """A first run's relisting would change nothing: the listing (read back from disk, page by
    page, in a crawl) is not even read."""
    read = 0

    def listing() -> Any:
        nonlocal read
        for index in range(12):
            read += 1
            yield Listed(f"https://example.test/csa_product/p{index}/", 0, index, f"i{index}")

    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        change = await store.relist(listing(), True, "s1")
        assert (await store.view()).stored == frozenset()
    assert (change.moved, change.relisted, change.delisted) == (0, 0, 0)
    assert read == 0


async def test_a_store_with_only_work_left_in_its_ledger_is_still_relisted(
    backend: Backend,
) -> None:
    """No product stored yet, but products pending from a run that stopped: one no longer
    listed is no work left, one listed elsewhere takes its new position."""
    products = page(0)
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "s1")
        await store.page_listed(
            LedgerPage(3, f"{SHAPE.base_url}/list/3"), [p.ref for p in products], 36, "s1"
        )
        await store.record_failures([], "s1")
        assert len(states(backend, "product")) == 12
        moved = products[1]
        await store.relist([Listed(moved.url, 1, 4, moved.ref.id)], True, "s2")
    left = rows(backend, "item = 'product'")
    assert list(left) == [moved.url]
    assert (left[moved.url]["page_id"], left[moved.url]["index_in_page"]) == (1, 4)


async def test_save_products_without_a_session_marks_done_too(backend: Backend) -> None:
    async with backend.open() as store:
        await store.save_products(page(2))
        assert len((await store.view()).done) == 12 == await store.count_products()


# -- runs whose process is gone -------------------------------------------------------------


def a_gone_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                              capture_output=True, check=True)  # fmt: skip
    return int(finished.stdout)


def running_row(
    backend: Backend, session_id: str, pid: int | None, host: str | None, heartbeat: str
) -> None:
    backend.execute(
        "INSERT INTO crawl_runs (session_id, status, started_at, pid, host, heartbeat_at)"
        " VALUES (?, 'running', ?, ?, ?, ?)",
        (session_id, heartbeat, pid, host, heartbeat),
    )


def run_statuses(backend: Backend) -> dict[str, tuple[Any, ...]]:
    return {
        row["session_id"]: tuple(row.values())[1:]
        for row in backend.rows(
            "SELECT session_id, status, pages_ok, products_saved, products_failed,"
            " error_json FROM crawl_runs"
        )
    }


async def test_a_run_whose_process_is_gone_becomes_interrupted_with_its_counts(
    backend: Backend,
) -> None:
    here = socket.gethostname()
    async with backend.open() as store:
        await store.open_shape(SHAPE, list_pages(SHAPE), "dead")
        await store.page_listed(LedgerPage(3, "https://example.test/list/3"), [], 36, "dead")
        await store.save_done(page(0)[:7], "dead")
        await store.record_failures([failure(product(0, 8).url)], "dead")
        running_row(backend, "dead", a_gone_pid(), here, liveness_now())
        await store.start_run("next", {})
    status, pages_ok, saved, failed, error = run_statuses(backend)["dead"]
    assert (status, pages_ok, saved, failed) == ("interrupted", 1, 7, 1)
    assert "ended without recording the run" in error
    assert run_statuses(backend)["next"][0] == "running"


async def test_a_live_process_or_a_fresh_heartbeat_elsewhere_is_left_running(
    backend: Backend,
) -> None:
    async with backend.open():
        pass
    now = liveness_now()
    async with trio.open_nursery() as nursery:
        sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
        sleeper = await nursery.start(functools.partial(trio.run_process, sleep, check=False))
        sleeper_pid = sleeper.pid
        running_row(backend, "alive-here", sleeper_pid, socket.gethostname(), now)
        running_row(backend, "me", os.getpid(), socket.gethostname(), now)
        running_row(backend, "elsewhere", 1, "another-host", now)
        async with backend.open() as store:
            await store.start_run("next", {})
        sleeper.kill()
    statuses = {session: row[0] for session, row in run_statuses(backend).items()}
    assert statuses == {"alive-here": "running", "me": "running", "elsewhere": "running",
                        "next": "running"}  # fmt: skip


async def test_a_stale_heartbeat_means_interrupted_whatever_the_pid(backend: Backend) -> None:
    async with backend.open():
        pass
    old = "2026-01-01T00:00:00.000000+00:00"
    running_row(backend, "stale-here", os.getpid(), socket.gethostname(), old)
    running_row(backend, "stale-elsewhere", 1, "another-host", old)
    running_row(backend, "before-0.2", None, None, old)
    async with backend.open() as store:
        await store.start_run("next", {})
    statuses = {session: row[0] for session, row in run_statuses(backend).items()}
    assert statuses == {"stale-here": "interrupted", "stale-elsewhere": "interrupted",
                        "before-0.2": "interrupted", "next": "running"}  # fmt: skip


async def test_a_heartbeat_refreshes_the_row_and_undoes_a_wrong_interrupted(
    backend: Backend,
) -> None:
    async with backend.open() as store:
        await store.start_run("s1", {})
        backend.execute("UPDATE crawl_runs SET status = 'interrupted', heartbeat_at = 'x'")
        await store.heartbeat("s1")
        await store.finish_run("s1", "completed", {})
        await store.heartbeat("s1")  # a late beat does not reopen a finished run
    [found] = backend.rows("SELECT status, heartbeat_at FROM crawl_runs")
    status, beat = found["status"], found["heartbeat_at"]
    assert status == "completed"
    assert beat != "x"


@pytest.mark.parametrize(
    ("pid", "gone"), [(0, True), (-3, True), (os.getpid(), False)], ids=["zero", "negative", "me"]
)
def test_process_gone(pid: int, gone: bool) -> None:
    assert liveness.process_gone(pid) is gone


def test_a_reaped_and_a_zombie_process_are_gone() -> None:
    assert liveness.process_gone(a_gone_pid())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert liveness.process_gone(zombie.pid)
    finally:
        zombie.wait()


def liveness_now() -> str:
    from trio_crawl.stores.sqlite import utc_timestamp

    return utc_timestamp()


async def test_a_page_that_fails_when_read_again_is_failed_though_it_was_done(
    backend: Backend,
) -> None:
    url = "https://example.test/list/2"
    async with backend.open() as store:
        await store.page_listed(LedgerPage(2, url), [], 36, "s1")
        await store.record_failures(
            [failure(url, item="page", stage="list_pages", kind="parse_error", page=2)], "s2"
        )
    row = rows(backend)[url]
    assert (row["state"], row["error_kind"], row["session_id"]) == ("failed", "parse_error", "s2")


async def test_pages_read_go_out_with_the_save_of_their_products_or_at_close(
    backend: Backend,
) -> None:
    products = page(0)
    async with backend.open() as store:
        await store.page_listed(LedgerPage(3, "https://example.test/list/3"),
                                [p.ref for p in products], 36, "s1")  # fmt: skip
        await store.save_done(products[:2], "s1")  # one transaction: the page, then the saves
        assert states(backend, "page") == {"https://example.test/list/3": "done"}
        assert sorted(states(backend, "product").values()) == ["done"] * 2 + ["pending"] * 10
        await store.page_listed(LedgerPage(2, "https://example.test/list/2"), [], 36, "s1")
    assert states(backend, "page")["https://example.test/list/2"] == "done"  # written at close


# -- SQLite only: files trio_crawl 0.1 wrote ------------------------------------------------


async def test_a_version_1_database_is_upgraded_with_its_products_done(tmp_path: Path) -> None:
    # What trio_crawl 0.1 wrote (version 1): its tables, a page of products with their details.
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in schema.DDL_V1:
        connection.execute(statement)
    for index in range(12):
        url = f"https://example.test/csa_product/p0-{index}/"
        connection.execute(
            "INSERT INTO products VALUES (?, 'Maker', 'Model', 'CSA', 0, ?, ?, 't', 't')",
            (url, index, f"p0000i{index:02d}"),
        )
        connection.execute(
            "INSERT INTO product_details (url, page_id, index_in_page, id, created_at,"
            " updated_at) VALUES (?, 0, ?, ?, 't', 't')",
            (url, index, f"p0000i{index:02d}"),
        )
    connection.execute("PRAGMA user_version = 1")
    connection.close()
    async with SqliteStore.open(path) as store:
        assert len((await store.view()).done) == 12
        assert await store.count_products() == 12
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    check.close()


async def test_stored_among_names_only_the_asked_urls_that_are_stored(backend: Backend) -> None:
    """What a distributed batch asks about its own urls: stored ones, listed or delisted,
    never a url it did not ask about, nor one merely pending or failed."""
    old, new, failed = (
        product(0, i, url=f"https://example.test/csa_product/{name}/")
        for i, name in enumerate(("old", "new", "failed"))
    )
    others = page(1)
    async with backend.open() as store:
        await store.save_done([old, new, *others], "s1")
        await store.relist([Listed(new.url, 0, 1, new.ref.id)], True, "s1")  # old delisted
        await store.record_failures([failure(failed.url)], "s1")
        asked = [old.url, new.url, failed.url, "https://example.test/csa_product/never/"]
        assert await store.stored_among(asked) == {old.url, new.url}
        assert await store.stored_among([]) == frozenset()
        many = [f"https://example.test/csa_product/x{i}/" for i in range(1200)]
        assert await store.stored_among([*many, others[3].url]) == {others[3].url}


async def test_failed_among_gives_the_asked_items_failed_for_good_with_their_reasons(
    backend: Backend,
) -> None:
    dead, gone, done = (f"https://example.test/csa_product/{n}/" for n in ("dead", "gone", "ok"))
    async with backend.open() as store:
        await store.save_done([product(0, 0, url=done)], "s1")
        await store.record_failures(
            [
                failure(dead, kind="client_error", attempts=1, last_error="404 Not Found"),
                failure(gone, state="cancelled"),
                failure(done),  # a done item stays done
            ],
            "s1",
        )
        found = await store.failed_among([dead, gone, done, "https://example.test/never/"])
        assert await store.failed_among([]) == []
    assert [(f.url, f.kind, f.attempts, f.last_error, f.stage) for f in found] == [
        (dead, "client_error", 1, "404 Not Found", "product_details")
    ]
