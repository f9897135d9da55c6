"""Databases for the status tests: the schema made by `open_store`, then the ledger, shape and run
rows a crawl would have written, inserted with plain SQL (sqlite3 for a file, psycopg for a
``postgresql://`` URL). Each function takes the database as a path or a URL and returns it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import trio

from trio_crawl.stores import open_store

BASE = "http://127.0.0.1:8000"
SEEN = "2026-12-01T10:20:00.000000+00:00"


def product_url(oldest: int) -> str:
    return f"{BASE}/products/p{oldest:02d}"


def page_url(page: int) -> str:
    return f"{BASE}/?page={page}"


Db = TypeVar("Db", Path, str)


def execute(db: Path | str, statement: str, params: Sequence[Any] = ()) -> None:
    """One statement (``?`` placeholders) in a transaction of its own."""
    if isinstance(db, str) and db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as server:
            server.execute(statement.replace("?", "%s"), params)
        return
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute(statement, params)


def create(path: Db) -> Db:
    """An empty database of the current schema at `path`."""

    async def open_and_close() -> None:
        async with open_store(path):
            pass

    trio.run(open_and_close)
    return path


def set_shape(
    path: Db, *, last_page: int, on_last: int, per_page: int = 12, session_id: str = "s3"
) -> None:
    total = (last_page - 1) * per_page + on_last
    execute(
        path,
        "INSERT INTO catalogue_shape (id, base_url, last_page, on_last, per_page, total,"
        " session_id, seen_at, record_table) VALUES (1, ?, ?, ?, ?, ?, ?, ?, 'matter')",
        (BASE, last_page, on_last, per_page, total, session_id, SEEN),
    )


def add_products(
    path: Db,
    oldest: Iterable[int],
    *,
    state: str = "done",
    kind: str | None = None,
    per_page: int = 12,
) -> None:
    """Ledger rows for the products at these oldest indexes; a done one is stored too."""
    for index in oldest:
        page_id, index_in_page = divmod(index, per_page)
        url = product_url(index)
        execute(
            path,
            "INSERT INTO crawl_ledger (url, item, page_id, index_in_page, state, stage,"
            " error_kind, attempts, last_error, session_id, updated_at)"
            " VALUES (?, 'product', ?, ?, ?, ?, ?, ?, ?, 's3', ?)",
            (
                url,
                page_id,
                index_in_page,
                state,
                None if kind is None else "product_details",
                kind,
                0 if kind is None else 3,
                None if kind is None else f"{kind} at {url}",
                SEEN,
            ),
        )
        if state == "done":
            execute(
                path,
                "INSERT INTO matter (url, manufacturer, model, certificate_id, page_id,"
                " index_in_page, id, created_at, updated_at)"
                " VALUES (?, 'Acme', 'Bulb', ?, ?, ?, ?, ?, ?)",
                (
                    url,
                    f"CSA{index:05d}",
                    page_id,
                    index_in_page,
                    f"p{page_id:04d}i{index_in_page:02d}",
                    SEEN,
                    SEEN,
                ),
            )


def add_page(
    path: Db,
    page: int,
    *,
    total: int,
    state: str = "done",
    kind: str | None = None,
    url: str | None = None,
) -> None:
    execute(
        path,
        "INSERT INTO crawl_ledger (url, item, page, total, state, stage, error_kind,"
        " attempts, session_id, updated_at) VALUES (?, 'page', ?, ?, ?, ?, ?, ?, 's3', ?)",
        (
            url or page_url(page),
            page,
            total,
            state,
            None if kind is None else "list_pages",
            kind,
            0 if kind is None else 1,
            SEEN,
        ),
    )


def add_run(
    path: Db,
    session_id: str,
    status: str,
    started_at: str,
    finished_at: str | None,
    counts: tuple[int, int, int, int] = (0, 0, 0, 0),
    error_json: str | None = None,
) -> None:
    execute(
        path,
        "INSERT INTO crawl_runs (session_id, status, started_at, finished_at, pages_ok,"
        " pages_failed, products_saved, products_failed, error_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (session_id, status, started_at, finished_at, *counts, error_json),
    )


def with_holes(path: Db) -> Db:
    """36 products on 3 pages of 12; positions 5..9 and 20 not stored: 5..8 failed to parse,
    9 pending, 20 timed out. Pages 1 and 2 read, page 3 cancelled (plus a page row of an older,
    24-product shape). Three runs, the middle one interrupted."""
    create(path)
    set_shape(path, last_page=3, on_last=12)
    add_products(path, [i for i in range(36) if i not in (5, 6, 7, 8, 9, 20)])
    add_products(path, [5, 6, 7, 8], state="failed", kind="parse_error")
    add_products(path, [9], state="pending")
    add_products(path, [20], state="failed", kind="network_timeout")
    add_page(path, 1, total=36)
    add_page(path, 2, total=36)
    add_page(path, 3, total=36, state="cancelled", kind="cancelled")
    add_page(path, 3, total=24, url=f"{BASE}/old/?page=3")
    add_run(
        path,
        "s1",
        "completed",
        "2026-12-01T09:00:00.000000+00:00",
        "2026-12-01T09:01:00.000000+00:00",
        (2, 0, 24, 0),
        "not json",
    )
    add_run(
        path,
        "s2",
        "interrupted",
        "2026-12-01T10:00:00.000000+00:00",
        None,
        (1, 0, 4, 0),
        json.dumps({"reason": "no heartbeat since 10:07:00: the process was killed"}),
    )
    failed_items = {
        "total": 5,
        "by_kind": {
            "parse_error": {"count": 4, "first_urls": [product_url(5)]},
            "network_timeout": {"count": 1, "first_urls": [product_url(20)]},
        },
    }
    add_run(
        path,
        "s3",
        "partial",
        "2026-12-01T10:20:00.000000+00:00",
        "2026-12-01T10:21:30.500000+00:00",
        (2, 0, 2, 5),
        json.dumps({"reason": "5 products failed", "failed_items": failed_items}),
    )
    return path


def all_done(path: Db, *, runs: int = 1) -> Db:
    """30 products on 3 pages of 12 (6 on the last), every page read and product stored."""
    create(path)
    set_shape(path, last_page=3, on_last=6)
    add_products(path, range(30))
    for page in (1, 2, 3):
        add_page(path, page, total=30)
    for n in range(runs):
        add_run(
            path,
            f"r{n}",
            "completed",
            f"2026-12-0{n + 1}T08:00:00.000000+00:00",
            f"2026-12-0{n + 1}T08:05:00.000000+00:00",
            (3, 0, 30, 0),
        )
    return path
