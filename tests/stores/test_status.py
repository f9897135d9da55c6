"""`read_status`: what a database says about its crawl, read without changing it. The tests with
the `backend` fixture run on SQLite and on PostgreSQL; the others are about SQLite files."""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from trio_crawl.stores import StoreOpenError, continue_command, read_status
from trio_crawl.stores.location import locate
from trio_crawl.stores.schema import DDL_V1
from trio_crawl.stores.status import (
    CrawlStatus,
    HoleRange,
    NotDoneGroup,
    RunRecord,
    ShapeSeen,
)
from trio_crawl.ui.status_text import status_lines

from ..backends import Backend
from .status_dbs import (
    BASE,
    SEEN,
    add_products,
    add_run,
    all_done,
    create,
    execute,
    page_url,
    product_url,
    set_shape,
    with_holes,
)

HOLES_STATUS_TEXT = """\
database:  {db}
catalogue: 36 products on 3 pages of 12 (12 on the last) at http://127.0.0.1:8000, seen 2026-12-01 10:20:00Z by session s3
pages:     2 of 3 list pages read
products:  30 of 36 stored
holes:     6 not stored below the newest stored, in 2 ranges (oldest index, site page): 5..9 (page 3), 20 (page 2)
not done:  page     cancelled  cancelled        1  http://127.0.0.1:8000/?page=3
           product  failed     parse_error      4  http://127.0.0.1:8000/products/p05 http://127.0.0.1:8000/products/p06 http://127.0.0.1:8000/products/p07
           product  failed     network_timeout  1  http://127.0.0.1:8000/products/p20
failures:  http://127.0.0.1:8000/products/p05  failed  parse_error      3x  parse_error at http://127.0.0.1:8000/products/p05
           http://127.0.0.1:8000/products/p06  failed  parse_error      3x  parse_error at http://127.0.0.1:8000/products/p06
           http://127.0.0.1:8000/products/p07  failed  parse_error      3x  parse_error at http://127.0.0.1:8000/products/p07
           http://127.0.0.1:8000/products/p08  failed  parse_error      3x  parse_error at http://127.0.0.1:8000/products/p08
           http://127.0.0.1:8000/products/p20  failed  network_timeout  3x  network_timeout at http://127.0.0.1:8000/products/p20
runs:      s3  partial      2026-12-01 10:20:00Z  2026-12-01 10:21:30Z  pages 2 ok 0 failed  products 2 saved 5 failed   5 products failed
           s2  interrupted  2026-12-01 10:00:00Z  -                     pages 1 ok 0 failed  products 4 saved 0 failed   no heartbeat since 10:07:00: the process was killed
           s1  completed    2026-12-01 09:00:00Z  2026-12-01 09:01:00Z  pages 2 ok 0 failed  products 24 saved 0 failed
left: 6 products on 2 pages; continue with: trio-crawl crawl --base-url http://127.0.0.1:8000 --db {{db}}"""  # noqa: E501


def test_a_crawl_with_holes_reports_every_field_exactly(backend: Backend) -> None:
    db = str(with_holes(backend.db))

    status = read_status(db)
    # Every item not done, one by one, with the reason its run recorded.
    assert [(f.url, f.state, f.kind, f.attempts, f.last_error) for f in status.failed] == [
        (page_url(3), "cancelled", "cancelled", 1, ""),
        *(
            (product_url(n), "failed", "parse_error", 3, f"parse_error at {product_url(n)}")
            for n in (5, 6, 7, 8)
        ),
        (product_url(20), "failed", "network_timeout", 3, f"network_timeout at {product_url(20)}"),
    ]
    assert attrs.evolve(status, failed=(), failures=()) == CrawlStatus(
        path=shown(db),
        shape=ShapeSeen(
            base_url=BASE,
            last_page=3,
            on_last=12,
            per_page=12,
            total=36,
            session_id="s3",
            seen_at=SEEN,
        ),
        # The done page row of the older 24-product shape does not count.
        pages_done=2,
        pages_expected=3,
        products_done=30,
        products_expected=36,
        holes=6,
        hole_range_count=2,
        # Oldest indexes 5..9 are on site page 3 (the oldest), 20 on page 2.
        hole_ranges=(HoleRange(5, 9, (3,)), HoleRange(20, 20, (2,))),
        pages_left=2,
        products_left=6,
        not_done=(
            NotDoneGroup("page", "cancelled", "cancelled", 1, (page_url(3),)),
            NotDoneGroup(
                "product",
                "failed",
                "parse_error",
                4,
                (product_url(5), product_url(6), product_url(7)),
            ),
            NotDoneGroup("product", "failed", "network_timeout", 1, (product_url(20),)),
        ),
        runs=(
            RunRecord(
                "s3",
                "partial",
                "2026-12-01T10:20:00.000000+00:00",
                "2026-12-01T10:21:30.500000+00:00",
                2,
                0,
                2,
                5,
                "5 products failed",
            ),
            RunRecord(
                "s2",
                "interrupted",
                "2026-12-01T10:00:00.000000+00:00",
                None,
                1,
                0,
                4,
                0,
                "no heartbeat since 10:07:00: the process was killed",
            ),
            # Its error JSON is not JSON: no reason, no failure.
            RunRecord(
                "s1",
                "completed",
                "2026-12-01T09:00:00.000000+00:00",
                "2026-12-01T09:01:00.000000+00:00",
                2,
                0,
                24,
                0,
                None,
            ),
        ),
        failures_count=5,
    )
    # The failed ones (not the cancelled page), as `status` lists them.
    assert [
        (f.item, f.url, f.state, f.kind, f.attempts, f.last_error) for f in status.failures
    ] == [
        ("product", product_url(i), "failed", kind, 3, f"{kind} at {product_url(i)}")
        for i, kind in [*((i, "parse_error") for i in (5, 6, 7, 8)), (20, "network_timeout")]
    ]


def test_to_dict_round_trips_through_json_under_stable_keys(backend: Backend) -> None:
    db = str(with_holes(backend.db))
    data = read_status(db).to_dict()

    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "db",
        "shape",
        "pages",
        "products",
        "holes",
        "not_done",
        "failures",
        "runs",
        "failed_items",
        "continue_command",
    ]
    assert data["pages"] == {"done": 2, "expected": 3, "left": 2}
    assert data["products"] == {"done": 30, "expected": 36, "left": 6, "delisted": 0}
    assert data["failures"]["count"] == 5 and len(data["failures"]["items"]) == 5
    assert data["holes"] == {
        "count": 6,
        "ranges": 2,
        "first_ranges": [
            {"first": 5, "last": 9, "count": 5, "pages": [3]},
            {"first": 20, "last": 20, "count": 1, "pages": [2]},
        ],
    }
    assert data["shape"]["base_url"] == BASE
    assert data["not_done"][1] == {
        "item": "product",
        "state": "failed",
        "kind": "parse_error",
        "count": 4,
        "first_urls": [product_url(5), product_url(6), product_url(7)],
    }
    assert [run["session_id"] for run in data["runs"]] == ["s3", "s2", "s1"]
    assert data["runs"][1] == {
        "session_id": "s2",
        "status": "interrupted",
        "started_at": "2026-12-01T10:00:00.000000+00:00",
        "finished_at": None,
        "pages_ok": 1,
        "pages_failed": 0,
        "products_saved": 4,
        "products_failed": 0,
        "reason": "no heartbeat since 10:07:00: the process was killed",
        "process_gone": None,
        "products_cancelled": 0,
    }
    assert data["continue_command"] == f"trio-crawl crawl --base-url {BASE} --db {quoted(db)}"


def test_text_names_the_holes_the_failed_kinds_and_the_continue_command(backend: Backend) -> None:
    db = str(with_holes(backend.db))

    text = HOLES_STATUS_TEXT.format(db=shown(db)).replace("--db {db}", f"--db {quoted(db)}")
    assert "\n".join(status_lines(read_status(db))) == text


def test_nothing_planned_yet_has_no_shape_and_says_start(backend: Backend) -> None:
    db = str(create(backend.db))
    # Stored by trio_crawl 0.1 and carried into the ledger by the upgrade: done, no shape yet.
    add_products(db, [0, 1, 2])

    status = read_status(db)

    assert status == CrawlStatus(
        path=shown(db),
        shape=None,
        pages_done=0,
        pages_expected=None,
        products_done=3,
        products_expected=None,
        holes=0,
        hole_range_count=0,
        hole_ranges=(),
        pages_left=None,
        products_left=None,
        not_done=(),
        runs=(),
    )
    assert status_lines(status) == [
        f"database:  {shown(db)}",
        "catalogue: no crawl has planned yet",
        "products:  3 stored",
        "runs:      none yet",
        f"left: the whole catalogue; start with: trio-crawl crawl --base-url URL --db {quoted(db)}",
    ]
    assert status.to_dict()["shape"] is None


def test_everything_stored_says_nothing_left_and_lists_the_last_five_runs(backend: Backend) -> None:
    db = str(all_done(backend.db, runs=7))

    status = read_status(db)

    assert (status.pages_done, status.pages_expected) == (3, 3)
    assert (status.products_done, status.products_expected) == (30, 30)
    assert (status.holes, status.hole_ranges, status.pages_left, status.products_left) == (
        0,
        (),
        0,
        0,
    )
    assert status.not_done == ()
    assert [run.session_id for run in status.runs] == ["r6", "r5", "r4", "r3", "r2"]
    assert status.continue_with is None
    assert status.to_dict()["continue_command"] is None
    lines = status_lines(status)
    assert "holes:     none" in lines
    assert lines[-1] == "nothing left: every product of the catalogue is stored"


def test_only_the_first_hole_ranges_are_listed_but_all_are_counted(backend: Backend) -> None:
    db = create(backend.db)
    set_shape(db, last_page=2, on_last=12)
    add_products(db, range(0, 24, 2))  # 0, 2, …, 22: holes at 1, 3, …, 21

    status = read_status(db)

    assert (status.holes, status.hole_range_count) == (11, 11)
    assert status.hole_ranges == (
        HoleRange(1, 1, (2,)),
        HoleRange(3, 3, (2,)),
        HoleRange(5, 5, (2,)),
        HoleRange(7, 7, (2,)),
        HoleRange(9, 9, (2,)),
    )
    # 23, above the newest stored, is not a hole but is left.
    assert (status.products_left, status.pages_left) == (12, 2)
    assert "9 (page 2), and 6 more" in "\n".join(status_lines(status))


def test_a_hole_across_two_site_pages_names_both(backend: Backend) -> None:
    db = create(backend.db)
    set_shape(db, last_page=3, on_last=6)  # 30 products: page 3 holds 0..5, page 2 holds 6..17
    add_products(db, [*range(3), *range(9, 30)])

    status = read_status(db)

    assert status.hole_ranges == (HoleRange(3, 8, (2, 3)),)
    assert "3..8 (pages 2..3)" in "\n".join(status_lines(status))
    assert (status.products_left, status.pages_left) == (6, 2)


def test_a_grown_catalogue_leaves_its_new_products_on_the_newest_pages(backend: Backend) -> None:
    db = create(backend.db)
    set_shape(db, last_page=4, on_last=2)  # 38 products; 36 stored; 36 and 37 new on page 1
    add_products(db, range(36))

    status = read_status(db)

    assert (status.holes, status.products_left, status.pages_left) == (0, 2, 1)
    assert status_lines(status)[-1] == (
        "left: 2 products on 1 page; continue with: trio-crawl crawl"
        f" --base-url {BASE} --db {quoted(db)}"
    )


def test_continue_command_quotes_what_the_shell_would_split() -> None:
    assert continue_command("http://x.test/a?b=1&c=2", "my crawl.db", "crawl conf.toml") == (
        "trio-crawl crawl --base-url 'http://x.test/a?b=1&c=2' --db 'my crawl.db'"
        " --config 'crawl conf.toml'"
    )
    assert continue_command("http://x.test", "c.db") == (
        "trio-crawl crawl --base-url http://x.test --db c.db"
    )


def _v1_database(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        for statement in DDL_V1:
            db.execute(statement)
        db.commit()
    return path


def _other_database(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (x)")
        db.commit()
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_text("notes\n"), p)[1], "is not an SQLite database"),
        (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
        (_other_database, "is not a trio_crawl database"),
        (_v1_database, "crawl into it once to upgrade it"),
    ],
    ids=["missing", "directory", "text", "empty", "other", "version-1"],
)
def test_a_file_that_is_not_a_current_trio_crawl_database_is_refused_naming_it(
    tmp_path: Path, make: Callable[[Path], object], says: str
) -> None:
    path = tmp_path / "x.db"
    make(path)
    before = path.read_bytes() if path.is_file() else None

    with pytest.raises(StoreOpenError) as raised:
        read_status(path)

    assert str(path) in str(raised.value)
    assert says in str(raised.value)
    assert (path.read_bytes() if path.is_file() else None) == before


def test_reading_the_status_never_changes_the_database(tmp_path: Path) -> None:
    path = with_holes(tmp_path / "crawl.db")
    before = path.read_bytes()

    read_status(path)

    assert path.read_bytes() == before


def test_a_shape_that_cannot_hold_its_total_is_reported_damaged(backend: Backend) -> None:
    path = create(backend.db)
    set_shape(path, last_page=3, on_last=12)
    execute(path, "UPDATE catalogue_shape SET total = 99")

    with pytest.raises(StoreOpenError, match="damaged"):
        read_status(path)


def _running(path: str, session_id: str, pid: int, heartbeat_at: str) -> None:
    add_run(path, session_id, "running", heartbeat_at, None)
    execute(
        path,
        "UPDATE crawl_runs SET pid = ?, host = ?, heartbeat_at = ? WHERE session_id = ?",
        (pid, socket.gethostname(), heartbeat_at, session_id),
    )


def test_a_running_run_tells_a_live_process_from_a_gone_one_without_marking_it(
    backend: Backend,
) -> None:
    path = all_done(backend.db, runs=0)
    now = datetime.now(UTC)
    an_hour_ago = (now - timedelta(hours=1)).isoformat(timespec="microseconds")
    _running(path, "killed", 2**22 + 1, an_hour_ago)  # its heartbeat is long stale
    _running(path, "live", os.getpid(), now.isoformat(timespec="microseconds"))
    before = backend.rows("SELECT * FROM crawl_runs ORDER BY session_id")

    status = read_status(path)

    assert [(run.session_id, run.status, run.process_gone) for run in status.runs] == [
        ("live", "running", False),
        ("killed", "running", True),
    ]
    assert [line.split()[:4] for line in status_lines(status)[-3:-1]] == [
        ["runs:", "live", "running", now.strftime("%Y-%m-%d")],
        ["killed", "running", "(process", "gone)"],
    ]
    assert backend.rows("SELECT * FROM crawl_runs ORDER BY session_id") == before


def shown(db: str) -> str:
    """How a status names `db` (a URL without its password)."""
    return locate(db).shown


def quoted(db: str) -> str:
    return shlex.quote(shown(db))
