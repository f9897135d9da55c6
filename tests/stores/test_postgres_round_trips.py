"""A save on PostgreSQL waits for the server once: the list pages deferred to it and the
batch's upsert-and-mark-done go out together, one implicit transaction up to one Sync; and a
batch the server refuses leaves nothing of itself, nor of what was deferred to it."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from psycopg import pq

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.records import Found, Record
from trio_crawl.stores import PostgresStore, open_store
from trio_crawl.stores.ledger import LedgerPage
from trio_crawl.stores.records import RecordTable

from .test_postgres import Reading, sql
from .test_sqlite import page

LISTED = LedgerPage(3, "https://example.test/list/3")


def ledger(url: str) -> list[tuple[str, str, str]]:
    return [
        (str(row[0]), str(row[1]), str(row[2]))
        for row in sql(url, "SELECT url, item, state FROM crawl_ledger ORDER BY url")
    ]


async def test_a_save_with_the_list_page_deferred_to_it_is_one_round_trip(
    pg_url: str, tmp_path: Path
) -> None:
    products = page(3)
    trace = tmp_path / "protocol.trace"
    async with PostgresStore.open(pg_url) as store:
        await store.page_listed(LISTED, [p.ref for p in products], 36, "s1")
        connection = store._connection  # the store's one psycopg connection
        fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            connection.pgconn.trace(fd)
            connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            assert await store.save_done(products, "s1") == 12
            connection.pgconn.untrace()
        finally:
            os.close(fd)
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    # Every message to the server ("F"), each Sync one wait for its answers.
    assert [m[2] for m in sent if m[0] == "F"].count("Sync") == 1
    assert sql(pg_url, "SELECT COUNT(*) FROM matter") == [(12,)]
    assert ledger(pg_url) == sorted(
        [(LISTED.url, "page", "done")] + [(p.ref.url, "product", "done") for p in products]
    )


async def test_a_batch_the_server_refuses_stores_nothing_and_keeps_what_was_deferred(
    pg_url: str,
) -> None:
    products = page(3)
    refused = products[5].ref.url
    async with PostgresStore.open(pg_url) as store:
        sql(pg_url, f"ALTER TABLE matter ADD CONSTRAINT no_p5 CHECK (url <> '{refused}')")
        await store.page_listed(LISTED, [p.ref for p in products], 36, "s1")
        with pytest.raises(StageError) as error:
            await store.save_done(products, "s1")
        assert error.value.kind is ErrorKind.database_error
        # Rolled back at the Sync: not the products before the refused one, nor the list page.
        assert sql(pg_url, "SELECT COUNT(*) FROM matter") == [(0,)]
        assert ledger(pg_url) == []
        # The connection is idle again, and the deferred rows go with the next save.
        sql(pg_url, "ALTER TABLE matter DROP CONSTRAINT no_p5")
        assert await store.save_done(products, "s1") == 12
    assert sql(pg_url, "SELECT COUNT(*) FROM matter") == [(12,)]
    assert ledger(pg_url) == sorted(
        [(LISTED.url, "page", "done")] + [(p.ref.url, "product", "done") for p in products]
    )


async def test_floats_json_cannot_say_are_stored_as_they_are(pg_url: str) -> None:
    # The batch travels as JSON, which has no NaN or infinity.
    table = RecordTable("weather", Reading)
    values = [math.nan, math.inf, -math.inf, 1e308, 0.1, 7]
    records = [
        Record(Found(f"https://x.test/r/{i}", {}, 0, i, f"p0000i{i:02d}"),
               Reading(f"https://x.test/r/{i}", "north", celsius))
        for i, celsius in enumerate(values)
    ]  # fmt: skip
    async with open_store(pg_url, records=table) as store:
        assert await store.save_products(records) == len(values)
        stored = [row["celsius"] for row in await store.fetch_products()]
    assert math.isnan(stored[0])
    assert stored[1:] == values[1:]
