"""The embedded SQLite store: products, their details and crawl runs in one WAL-mode file.

sqlite3 blocks, so every call runs in a worker thread (`trio.to_thread.run_sync`) on the store's
one connection; a `trio.Lock` makes sure only one thread uses that connection at a time. sqlite3
errors become `StageError`s in one place, `map_sqlite_errors`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import trio

from ..engine.results import ErrorKind, StageError
from ..sites.records import Product, ProductRef
from . import liveness, schema
from .ledger import LedgerFailure, LedgerPage, LedgerShape, LedgerView, Listed, Relisting
from .records import RecordTable
from .schema import (
    DDL,
    DETAIL_COLUMNS,
    PRODUCT_COLUMNS,
    RECORD_QUERY,
    SchemaState,
    StoreOpenError,
)

T = TypeVar("T")

Row = dict[str, Any]

logger = logging.getLogger(__name__)

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


@contextmanager
def map_sqlite_errors(path: str = "the database") -> Iterator[None]:
    """Translate sqlite3 failures into `StageError`: lock contention (SQLITE_BUSY/LOCKED,
    "database is locked") is `database_busy`, which the saving stage retries; a file that can
    take no more writes (full disk, read-only, I/O error, damaged) is `database_unusable`, which
    ends the session, with a message naming `path` and the cause; any other sqlite3 error is
    `database_error`. The sqlite3 exception is kept as the cause."""
    try:
        yield
    except sqlite3.Error as exc:
        cause = _UNUSABLE.get((getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF)
        if cause is not None:
            raise StageError(ErrorKind.database_unusable, f"{cause.format(path)} ({exc})") from exc
        kind = ErrorKind.database_busy if _is_busy(exc) else ErrorKind.database_error
        raise StageError(kind, f"{type(exc).__name__}: {exc}") from exc


_UNUSABLE = {
    sqlite3.SQLITE_FULL: "cannot write to {}: the disk is full",
    sqlite3.SQLITE_READONLY: "cannot write to {}: it is read-only",
    sqlite3.SQLITE_IOERR: "cannot write to {}: input/output error",
    sqlite3.SQLITE_CORRUPT: "cannot use {}: the file is damaged",
    sqlite3.SQLITE_NOTADB: "cannot use {}: it is no longer a database",
    sqlite3.SQLITE_CANTOPEN: "cannot write to {}: it cannot be opened",
}
"""The primary result codes that say the file can take no more writes, and how to say so."""


def _is_busy(exc: sqlite3.Error) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _BUSY_CODES:
        return True
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def utc_timestamp() -> str:
    """Now as ISO-8601 UTC text with microseconds (fixed width, so it sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SqliteStore:
    """A `Store` backed by one SQLite file. Create it with `SqliteStore.open(path)`.

    `per_page` is the catalogue's page size, used to turn `(page_id, index_in_page)` into a
    position for `newest_position()`.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        per_page: int = 12,
        records: RecordTable | None = None,
        path: str = ":memory:",
    ) -> None:
        self._connection = connection
        self._path = path
        self._identity = _identity(path)
        """The opened file's (device, inode): `_check_file` compares the path's with it."""
        self._lost: StageError | None = None
        """Why the file may not be written any more (deleted or replaced under the crawl)."""
        self._per_page = per_page
        self._records = records
        self._table = "products" if records is None else records.name
        self._lock = trio.Lock()
        self._listed: list[Row] = []
        """Ledger rows of list pages read (and their pending products) not yet written: they
        go out with the next write, so a page read costs no transaction of its own (a kill
        before then leaves them pending, which is what they are until their products are
        stored)."""

    @property
    def records(self) -> RecordTable | None:
        """The site's own record table, or None: Matter products in their own tables."""
        return self._records

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 1000,
        per_page: int = 12,
        records: RecordTable | None = None,
    ) -> AsyncIterator[SqliteStore]:
        """Open (creating if needed) the database at `path` and its schema; close it on exit.

        `busy_timeout_ms` is how long a write waits for another writer's lock before failing
        with `database_busy`; opening tries again for up to `OPEN_BUSY_SECS` in all. With
        `records` (a `RecordTable`, for a site of your own) items are `Record`s kept in that
        table; without, Matter `Product`s in their own tables. A file that is not a
        trio_crawl database (see `schema.inspect`), or one that cannot be opened, raises
        `StoreOpenError` and is left unchanged.
        """
        if busy_timeout_ms < 0:
            raise ValueError(f"busy_timeout_ms must be >= 0, got {busy_timeout_ms!r}")
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page!r}")
        connection = await _open_connection(os.fspath(path), busy_timeout_ms)
        store = cls(connection, per_page=per_page, records=records, path=os.fspath(path))
        try:
            if records is not None:
                await store._run(lambda connection: _create_records(connection, records, path))
            yield store
        finally:
            # Close even when the surrounding scope is cancelled, or the file stays open.
            with trio.CancelScope(shield=True):
                await store.aclose()

    async def aclose(self) -> None:
        """Write what is queued, close the connection; later calls fail with `database_error`."""
        if self._listed:
            with contextlib.suppress(StageError):
                await self._write(lambda connection: None)
        await self._run(lambda connection: connection.close())

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            with map_sqlite_errors(self._path):
                return await trio.to_thread.run_sync(fn, self._connection)

    async def _check_file(self) -> None:
        """Refuse (`database_unusable`) to write once the path no longer names the file that
        was opened. A write then would go to a deleted file, and the WAL, which SQLite finds by
        name and leaves behind when the file has moved, would be read as the new file's and
        damage it: so what the WAL holds goes into the opened file (the moved one) first, and
        the WAL is emptied."""
        if self._lost is None and self._identity is not None:
            now = _identity(self._path)
            if now is None:
                what = "was deleted"
            elif now != self._identity:
                what = "was replaced by another file"
            else:
                return
            self._lost = StageError(
                ErrorKind.database_unusable,
                f"{self._path} {what} while the crawl was writing to it; nothing more is"
                " written to it",
            )
            with contextlib.suppress(StageError):
                await self._run(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        if self._lost is not None:
            raise self._lost

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one BEGIN IMMEDIATE … COMMIT transaction (rolled back if it fails),
        after the list pages read since the last write (see `page_listed`)."""
        await self._check_file()
        listed = self._take_listed()

        def write(connection: sqlite3.Connection) -> T:
            with _immediate_transaction(connection):
                _write_listed(connection, listed)
                return fn(connection)

        try:
            return await self._run(write)
        except BaseException:
            self._listed[:0] = listed  # not written: the next write takes them
            raise

    # -- the Store protocol ------------------------------------------------------------------

    async def save_products(self, products: Sequence[Any]) -> int:
        """Upsert `products` (and their details) in one transaction, marking them done in the
        ledger in it; returns how many products were written.

        Saving the same product again updates its row (`updated_at` changes, `created_at`
        stays). Within a batch the last product for a url or a position wins; a stored product
        that holds one of the batch's positions under another url is deleted first.
        """
        return await self.save_done(products, None)

    async def save_done(self, products: Sequence[Any], session_id: str | None) -> int:
        """`save_products`, with the ledger rows saying which session stored them."""
        winners = latest_per_url_and_position(products)
        if not winners:
            return 0
        now = utc_timestamp()
        done_rows = [_done_row(product, session_id, now) for product in winners]
        records = self._records
        if records is not None:
            rows = [records.row(item, now) for item in winners]
            return await self._write(
                lambda connection: _save_records(connection, records, rows, done_rows)
            )
        product_rows = [_product_row(product, now) for product in winners]
        detail_rows = [_detail_row(product, now) for product in winners]
        return await self._write(
            lambda connection: _save(connection, product_rows, detail_rows, done_rows)
        )

    # -- the Ledger protocol -----------------------------------------------------------------

    async def view(self) -> LedgerView:
        table = self._table

        def query(connection: sqlite3.Connection) -> LedgerView:
            row = connection.execute(
                "SELECT base_url, last_page, on_last, per_page, ordering FROM catalogue_shape"
            ).fetchone()
            shape = None if row is None else LedgerShape(*row)
            done: dict[tuple[int, int], str] = {}
            stored: set[str] = set()
            for url, page_id, index_in_page, listed in connection.execute(
                "SELECT l.url, l.page_id, l.index_in_page, s.delisted_at IS NULL"
                f' FROM crawl_ledger AS l JOIN "{table}" AS s ON s.url = l.url'
                " WHERE l.item = 'product' AND l.state = 'done'"
            ):
                stored.add(url)
                if listed:
                    done[(page_id, index_in_page)] = url
            return LedgerView(shape, done, frozenset(stored))

        return await self._run(query)

    async def relist(self, listing: Sequence[Listed], complete: bool, session_id: str) -> Relisting:
        """Give every stored product in `listing` the position the listing shows it at, and
        (with a `complete` listing) mark every other stored product delisted, in one
        transaction. Without a complete listing nothing moves: a product not seen may hold a
        position a seen one would take."""
        if not complete:
            return Relisting()
        table = self._table
        rows = [
            {
                "url": item.url,
                "page_id": item.page_id,
                "index_in_page": item.index_in_page,
                "id": item.id,
            }
            for item in listing
        ]
        now = utc_timestamp()
        details = self._records is None

        def write(connection: sqlite3.Connection) -> Relisting:
            connection.execute(_LISTING_TABLE)
            connection.execute("DELETE FROM temp.listing")
            _insert_many(connection, _LISTING_ROWS, rows)
            counts = connection.execute(_RELIST_COUNTS.format(table=table)).fetchone()
            delisted = connection.execute(
                f'UPDATE "{table}" SET delisted_at = ? WHERE delisted_at IS NULL'
                " AND url NOT IN (SELECT url FROM temp.listing)",
                (now,),
            ).rowcount
            # An item no longer listed is no work left, whatever became of it before.
            connection.execute(
                "DELETE FROM crawl_ledger WHERE item = 'product' AND state <> 'done'"
                " AND url NOT IN (SELECT url FROM temp.listing)"
            )
            # Park what moves (positions are unique among the listed, checked row by row),
            # then put everything listed where the listing shows it.
            connection.execute(_RELIST_PARK.format(table=table))
            connection.execute(_RELIST_MOVE.format(table=table), (now,))
            if details:
                connection.execute(_RELIST_DETAILS)
            connection.execute(_RELIST_LEDGER)
            connection.execute("DELETE FROM temp.listing")
            return Relisting(moved=counts[0] or 0, relisted=counts[1] or 0, delisted=delisted)

        return await self._write(write)

    async def open_shape(
        self, shape: LedgerShape, pages: Sequence[LedgerPage], session_id: str
    ) -> None:
        now = utc_timestamp()
        rows = [
            {
                "url": page.url,
                "page": page.page,
                "total": shape.total,
                "state": "done" if page.done else "pending",
                "session_id": session_id,
                "updated_at": now,
            }
            for page in pages
        ]
        shape_row = {
            "base_url": shape.base_url,
            "last_page": shape.last_page,
            "on_last": shape.on_last,
            "per_page": shape.per_page,
            "total": shape.total,
            "session_id": session_id,
            "seen_at": now,
            "record_table": self._table,
            "ordering": str(shape.ordering),
        }

        def write(connection: sqlite3.Connection) -> None:
            # Page numbers of another shape showed other products: those rows go.
            connection.execute(
                "DELETE FROM crawl_ledger WHERE item = 'page' AND total IS NOT :total", shape_row
            )
            connection.execute(_SHAPE_UPSERT, shape_row)
            connection.executemany(_PAGE_PLANNED, rows)

        await self._write(write)

    async def page_listed(
        self, page: LedgerPage, refs: Sequence[ProductRef], total: int, session_id: str
    ) -> None:
        now = utc_timestamp()
        page_row = {
            "url": page.url,
            "page": page.page,
            "total": total,
            "session_id": session_id,
            "updated_at": now,
        }
        self._listed.append(page_row)
        self._listed.extend(
            {
                "url": ref.url,
                "page": page.page,
                "total": total,
                "page_id": ref.page_id,
                "index_in_page": ref.index_in_page,
                "session_id": session_id,
                "updated_at": now,
            }
            for ref in refs
        )

    def _take_listed(self) -> list[Row]:
        listed, self._listed = self._listed, []
        return listed

    async def record_failures(self, failures: Sequence[LedgerFailure], session_id: str) -> None:
        """Mark the items a run gave up on (and write the list pages read since the last
        write: a session ends with this call)."""
        now = utc_timestamp()
        rows = [
            {
                "url": failure.url,
                "item": failure.item,
                "page": failure.page,
                "page_id": failure.page_id,
                "index_in_page": failure.index_in_page,
                "state": failure.state,
                "stage": failure.stage,
                "error_kind": failure.kind,
                "attempts": failure.attempts,
                "last_error": failure.last_error,
                "session_id": session_id,
                "updated_at": now,
            }
            for failure in failures
        ]

        if rows or self._listed:
            await self._write(lambda connection: connection.executemany(_FAILED, rows))

    async def newest_position(self) -> int | None:
        per_page = self._per_page
        table = self._table

        def query(connection: sqlite3.Connection) -> int | None:
            row = connection.execute(
                f'SELECT MAX(page_id * ? + index_in_page) FROM "{table}" WHERE delisted_at IS NULL',
                (per_page,),
            ).fetchone()
            return None if row[0] is None else int(row[0])

        return await self._run(query)

    async def start_run(self, session_id: str, config: Mapping[str, Any]) -> None:
        """Record that session `session_id` started, with the config it runs under, this
        process's pid and host, and a first heartbeat. Runs left `running` by a process that is
        gone (or silent for `liveness.STALE_AFTER_SECS`) become `interrupted` first."""
        now = utc_timestamp()
        host = socket.gethostname()
        params = {
            "session_id": session_id,
            "started_at": now,
            "config_json": _to_json(config),
            "pid": os.getpid(),
            "host": host,
            "heartbeat_at": now,
        }

        def write(connection: sqlite3.Connection) -> None:
            liveness.mark_interrupted(connection, host, now)
            connection.execute(
                "INSERT INTO crawl_runs (session_id, status, started_at, config_json, pid,"
                " host, heartbeat_at) VALUES (:session_id, 'running', :started_at,"
                " :config_json, :pid, :host, :heartbeat_at)",
                params,
            )

        try:
            await self._write(write)
        except StageError as error:  # the crawl cannot start: say so as for a file refused
            if error.kind is ErrorKind.database_unusable:
                raise StoreOpenError(self._path, error.message) from error
            raise

    async def heartbeat(self, session_id: str) -> None:
        """Say that session `session_id` is alive (see `liveness`); raises `database_unusable`
        once the path no longer names the file that was opened."""
        await self._check_file()
        params = (utc_timestamp(), session_id)
        await self._run(
            lambda connection: connection.execute(
                "UPDATE crawl_runs SET heartbeat_at = ?, status = 'running'"
                " WHERE session_id = ? AND status IN ('running', 'interrupted')",
                params,
            )
        )

    async def finish_run(
        self,
        session_id: str,
        status: str,
        counts: Mapping[str, int],
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how session `session_id` ended. Missing counts are 0; `error` is stored as
        JSON. Raises `database_error` when the run was never started."""
        params = {
            "session_id": session_id,
            "status": status,
            "finished_at": utc_timestamp(),
            "pages_ok": counts.get("pages_ok", 0),
            "pages_failed": counts.get("pages_failed", 0),
            "products_saved": counts.get("products_saved", 0),
            "products_failed": counts.get("products_failed", 0),
            "pages_cancelled": counts.get("pages_cancelled", 0),
            "products_cancelled": counts.get("products_cancelled", 0),
            "error_json": None if error is None else _to_json(error),
        }
        await self._check_file()
        updated = await self._run(
            lambda connection: (
                connection.execute(
                    "UPDATE crawl_runs SET status = :status, finished_at = :finished_at,"
                    " pages_ok = :pages_ok, pages_failed = :pages_failed,"
                    " products_saved = :products_saved, products_failed = :products_failed,"
                    " pages_cancelled = :pages_cancelled,"
                    " products_cancelled = :products_cancelled,"
                    " error_json = :error_json WHERE session_id = :session_id",
                    params,
                ).rowcount
            )
        )
        if updated == 0:
            raise StageError(ErrorKind.database_error, f"no crawl run {session_id!r} to finish")

    # -- reads for tests and the CLI ---------------------------------------------------------

    async def count_products(self) -> int:
        """How many products (or, with a `RecordTable`, records) are stored."""
        table = self._table

        def query(connection: sqlite3.Connection) -> int:
            return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

        return await self._run(query)

    async def fetch_products(self) -> list[Row]:
        """Every product as one flat record (`schema.RECORD_QUERY`), oldest position first."""
        return await self._run(
            lambda connection: [dict(row) for row in connection.execute(RECORD_QUERY)]
        )

    async def runs(self) -> list[Row]:
        """Every crawl_runs row, in the order the runs started."""
        return await self._run(
            lambda connection: [
                dict(row)
                for row in connection.execute(
                    "SELECT * FROM crawl_runs ORDER BY started_at, session_id"
                )
            ]
        )


def latest_per_url_and_position(products: Sequence[T]) -> list[T]:
    """Drop every product that a later one in the batch supersedes (same url or same position),
    so the batch's upserts cannot collide with each other. Keeps batch order."""
    seen_urls: set[str] = set()
    seen_positions: set[tuple[int, int]] = set()
    kept: list[T] = []
    for product in reversed(products):
        ref = product.ref  # type: ignore[attr-defined]
        position = (ref.page_id, ref.index_in_page)
        if ref.url in seen_urls or position in seen_positions:
            continue
        seen_urls.add(ref.url)
        seen_positions.add(position)
        kept.append(product)
    kept.reverse()
    return kept


def _product_row(product: Product, now: str) -> Row:
    ref = product.ref
    return {
        "url": ref.url,
        "manufacturer": ref.manufacturer,
        "model": ref.model,
        "certificate_id": ref.certificate_id,
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "id": ref.id,
        "created_at": now,
        "updated_at": now,
        "listed_at": now,
        "delisted_at": None,
    }


def _detail_row(product: Product, now: str) -> Row:
    ref, detail = product.ref, product.detail
    # Keyed by the list's url, which is what products references (a detail page may redirect).
    return {
        "url": ref.url,
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "id": ref.id,
        "manufacturer": detail.manufacturer,
        "model": detail.model,
        "device_type": detail.device_type,
        "certificate_id": detail.certificate_id,
        "certification_date": detail.certification_date,
        "software_version": detail.software_version,
        "hardware_version": detail.hardware_version,
        "firmware_version": detail.firmware_version,
        "specification_version": detail.specification_version,
        "vid": detail.vid,
        "pid": detail.pid,
        "family_sku": detail.family_sku,
        "family_variant_sku": detail.family_variant_sku,
        "family_id": detail.family_id,
        "tis_trp_tested": detail.tis_trp_tested,
        "transport_interface": detail.transport_interface,
        "primary_device_type_id": detail.primary_device_type_id,
        "program_type": detail.program_type,
        "created_at": now,
        "updated_at": now,
    }


LEDGER_DONE_COLUMNS = (
    "url",
    "item",
    "page_id",
    "index_in_page",
    "state",
    "stage",
    "error_kind",
    "last_error",
    "session_id",
    "updated_at",
)


def _done_row(product: Any, session_id: str | None, now: str) -> Row:
    ref = product.ref
    return {
        "url": ref.url,
        "item": "product",
        "page_id": ref.page_id,
        "index_in_page": ref.index_in_page,
        "state": "done",
        "stage": None,
        "error_kind": None,
        "last_error": None,
        "session_id": session_id,
        "updated_at": now,
    }


_SHAPE_UPSERT = (
    "INSERT INTO catalogue_shape (id, base_url, last_page, on_last, per_page, total, session_id,"
    " seen_at, record_table, ordering) VALUES (1, :base_url, :last_page, :on_last, :per_page,"
    " :total, :session_id, :seen_at, :record_table, :ordering) ON CONFLICT (id) DO UPDATE SET"
    " base_url = excluded.base_url, last_page = excluded.last_page, on_last = excluded.on_last,"
    " per_page = excluded.per_page, total = excluded.total, session_id = excluded.session_id,"
    " seen_at = excluded.seen_at, record_table = excluded.record_table,"
    " ordering = excluded.ordering"
)
# A page of the shape gets a row once; a row it already has keeps its state.
_PAGE_PLANNED = (
    "INSERT INTO crawl_ledger (url, item, page, total, state, session_id, updated_at)"
    " VALUES (:url, 'page', :page, :total, :state, :session_id, :updated_at)"
    " ON CONFLICT (url) DO UPDATE SET state = 'done', session_id = excluded.session_id,"
    " updated_at = excluded.updated_at"
    " WHERE excluded.state = 'done' AND crawl_ledger.state <> 'done'"
)
_LISTING_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS listing (url TEXT PRIMARY KEY, page_id INTEGER NOT NULL,"
    " index_in_page INTEGER NOT NULL, id TEXT NOT NULL)"
)
_RELIST_COUNTS = (
    "SELECT SUM(s.delisted_at IS NULL AND (s.page_id <> l.page_id"
    " OR s.index_in_page <> l.index_in_page)), SUM(s.delisted_at IS NOT NULL)"
    ' FROM "{table}" AS s JOIN temp.listing AS l ON l.url = s.url'
)
_RELIST_PARK = (
    'UPDATE "{table}" SET page_id = -"{table}".rowid FROM temp.listing AS l'
    ' WHERE "{table}".url = l.url'
    ' AND ("{table}".delisted_at IS NOT NULL OR "{table}".page_id <> l.page_id'
    ' OR "{table}".index_in_page <> l.index_in_page)'
)
_RELIST_MOVE = (
    'UPDATE "{table}" SET page_id = l.page_id, index_in_page = l.index_in_page, id = l.id,'
    " listed_at = ?, delisted_at = NULL FROM temp.listing AS l"
    ' WHERE "{table}".url = l.url'
)
_RELIST_DETAILS = (
    "UPDATE product_details SET page_id = l.page_id, index_in_page = l.index_in_page, id = l.id"
    " FROM temp.listing AS l WHERE product_details.url = l.url"
)
_RELIST_LEDGER = (
    "UPDATE crawl_ledger SET page_id = l.page_id, index_in_page = l.index_in_page"
    " FROM temp.listing AS l WHERE crawl_ledger.url = l.url AND crawl_ledger.item = 'product'"
)


class _ManyRows(NamedTuple):
    """An INSERT that takes many rows in one statement (`_insert_many`)."""

    insert: str
    """``INSERT INTO table (columns)``"""
    one_row: str
    """One row's ``(?, …)``, constants included."""
    conflict: str
    """`` ON CONFLICT …``"""
    names: tuple[str, ...]
    """The row keys the placeholders of `one_row` take, in order."""


_LISTING_ROWS = _ManyRows(
    "INSERT INTO temp.listing (url, page_id, index_in_page, id)",
    "(?, ?, ?, ?)",
    " ON CONFLICT (url) DO NOTHING",
    ("url", "page_id", "index_in_page", "id"),
)
# `_write_listed`'s statements.
_PAGE_LISTED = _ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, total, state, session_id, updated_at)",
    "(?, 'page', ?, ?, 'done', ?, ?)",
    " ON CONFLICT (url) DO UPDATE SET item = 'page', page = excluded.page,"
    " total = excluded.total, state = 'done', stage = NULL, error_kind = NULL,"
    " last_error = NULL, session_id = excluded.session_id, updated_at = excluded.updated_at",
    ("url", "page", "total", "session_id", "updated_at"),
)
# A product seen on a list page is pending until it is stored; a done one stays done.
_PRODUCT_PENDING = _ManyRows(
    "INSERT INTO crawl_ledger (url, item, page, total, page_id, index_in_page, state, session_id,"
    " updated_at)",
    "(?, 'product', ?, ?, ?, ?, 'pending', ?, ?)",
    " ON CONFLICT (url) DO UPDATE SET page = excluded.page, total = excluded.total,"
    " page_id = excluded.page_id, index_in_page = excluded.index_in_page, state = 'pending',"
    " session_id = excluded.session_id, updated_at = excluded.updated_at"
    " WHERE crawl_ledger.state <> 'done'",
    ("url", "page", "total", "page_id", "index_in_page", "session_id", "updated_at"),
)
_FAILED = (
    "INSERT INTO crawl_ledger (url, item, page, page_id, index_in_page, state, stage, error_kind,"
    " attempts, last_error, session_id, updated_at) VALUES (:url, :item, :page, :page_id,"
    " :index_in_page, :state, :stage, :error_kind, :attempts, :last_error, :session_id,"
    " :updated_at)"
    " ON CONFLICT (url) DO UPDATE SET state = excluded.state, stage = excluded.stage,"
    " error_kind = excluded.error_kind, attempts = excluded.attempts,"
    " last_error = excluded.last_error, session_id = excluded.session_id,"
    " updated_at = excluded.updated_at,"
    " page_id = COALESCE(excluded.page_id, crawl_ledger.page_id),"
    " index_in_page = COALESCE(excluded.index_in_page, crawl_ledger.index_in_page)"
    # A stored product stays done; a list page that failed when read again did fail.
    " WHERE crawl_ledger.state <> 'done' OR excluded.item = 'page'"
)
_UNDONE_EVICTED = (
    "DELETE FROM crawl_ledger WHERE item = 'product' AND state = 'done'"
    " AND url NOT IN (SELECT url FROM products)"
)


def _upsert_at_once(
    connection: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[Row]
) -> None:
    """Upsert `rows` by url with multi-row statements (`_insert_many`). (`rows` never repeat a
    url: `latest_per_url_and_position` saw to that.)"""
    _insert_many(connection, _upsert_of(table, tuple(columns)), rows)


@functools.lru_cache(maxsize=64)
def _upsert_of(table: str, columns: tuple[str, ...]) -> _ManyRows:
    names = ", ".join(f'"{column}"' for column in columns)
    updates = ", ".join(
        f'"{column}" = excluded."{column}"'
        for column in columns
        if column not in ("url", "created_at")
    )
    return _ManyRows(
        f'INSERT INTO "{table}" ({names})',
        "(" + ", ".join("?" * len(columns)) + ")",
        f" ON CONFLICT (url) DO UPDATE SET {updates}",
        columns,
    )


def _insert_many(connection: sqlite3.Connection, statement: _ManyRows, rows: list[Row]) -> None:
    """executemany's work in multi-row statements: one statement executes while the GIL is
    released, where executemany would hand the GIL back and forth with the crawl once a row,
    each time waiting for the crawl's thread to let go of it. Rows apply in order, a url
    repeated included, as they would there."""
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, limit // len(statement.names))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = [row[name] for row in chunk for name in statement.names]
        many = ", ".join([statement.one_row] * len(chunk))
        connection.execute(f"{statement.insert} VALUES {many}{statement.conflict}", values)


# A batch may move stored products between positions (even swap them), and the unique position
# index is checked per row. So first move every batch product that changes position to a
# parking spot no real product uses (page_id = -rowid is unique per row), then delete the
# products of other urls that hold the batch's positions, then upsert.
_PARK = (
    "UPDATE {table} SET page_id = -rowid WHERE url = :url"
    " AND (page_id <> :page_id OR index_in_page <> :index_in_page)"
)
_PARK_PRODUCT = _PARK.format(table="products")
_PARK_DETAIL = _PARK.format(table="product_details")
# Only a listed product holds its position: a delisted one keeps its last, shared or not.
_EVICT_DETAIL = (
    "DELETE FROM product_details WHERE url <> :url AND url IN (SELECT url FROM products"
    "  WHERE page_id = :page_id AND index_in_page = :index_in_page AND delisted_at IS NULL)"
)
_EVICT_PRODUCT = (
    "DELETE FROM products WHERE url <> :url"
    " AND page_id = :page_id AND index_in_page = :index_in_page AND delisted_at IS NULL"
)


def _save(
    connection: sqlite3.Connection,
    product_rows: list[Row],
    detail_rows: list[Row],
    done_rows: list[Row],
) -> int:
    """Upsert a batch of products and mark them done (inside the caller's transaction)."""
    # The usual batch moves nothing: plain upserts do it in a third of the statements. A
    # position held by another url fails the unique index; then undo and take the long way.
    connection.execute("SAVEPOINT plain_upsert")
    try:
        _upsert_both(connection, product_rows, detail_rows)
    except sqlite3.IntegrityError:
        connection.execute("ROLLBACK TO plain_upsert")
    else:
        connection.execute("RELEASE plain_upsert")
        _upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
        return len(product_rows)
    connection.execute("RELEASE plain_upsert")
    connection.executemany(_PARK_DETAIL, product_rows)
    connection.executemany(_PARK_PRODUCT, product_rows)
    connection.executemany(_EVICT_DETAIL, product_rows)
    connection.executemany(_EVICT_PRODUCT, product_rows)
    _upsert_both(connection, product_rows, detail_rows)
    # An evicted product is no longer stored, so it is no longer done.
    connection.execute(_UNDONE_EVICTED)
    _upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
    return len(product_rows)


def _save_records(
    connection: sqlite3.Connection,
    records: RecordTable,
    rows: list[Row],
    done_rows: list[Row],
) -> int:
    _upsert_at_once(connection, records.name, records.column_names, rows)
    _upsert_at_once(connection, "crawl_ledger", LEDGER_DONE_COLUMNS, done_rows)
    return len(rows)


def _write_listed(connection: sqlite3.Connection, listed: list[Row]) -> None:
    if listed:
        _insert_many(connection, _PAGE_LISTED, [row for row in listed if "page_id" not in row])
        _insert_many(connection, _PRODUCT_PENDING, [row for row in listed if "page_id" in row])


def _create_records(connection: sqlite3.Connection, records: RecordTable, path: Any) -> None:
    """Create the site's record table, or check that the one there fits its record type."""
    with _immediate_transaction(connection):
        found = [row[1] for row in connection.execute(f'PRAGMA table_info("{records.name}")')]
        records.check(found, os.fspath(path))
        connection.execute(records.ddl())
        for statement in records.missing_listing_columns(found):
            connection.execute(statement)


def _upsert_both(
    connection: sqlite3.Connection, product_rows: list[Row], detail_rows: list[Row]
) -> None:
    _upsert_at_once(connection, "products", PRODUCT_COLUMNS, product_rows)
    _upsert_at_once(connection, "product_details", DETAIL_COLUMNS, detail_rows)


@contextmanager
def _immediate_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (take the write lock up front, so contention shows at the start) …
    COMMIT, rolling back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


OPEN_BUSY_SECS = 15.0
"""How long opening waits, in all, for another process's lock (setting up a new file needs the
write lock, which a crawl already writing to it takes again and again; one busy timeout of
waiting is not always enough to get it)."""


async def _open_connection(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """`_connect` in a thread, tried again while the file is locked, up to OPEN_BUSY_SECS."""
    give_up = trio.current_time() + OPEN_BUSY_SECS
    delay = 0.05
    while True:
        try:
            return await trio.to_thread.run_sync(_connect, path, busy_timeout_ms)
        except StoreOpenError as exc:
            if exc.kind is not ErrorKind.database_busy or trio.current_time() + delay > give_up:
                raise
        await trio.sleep(delay)
        delay = min(delay * 2, 1.0)


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open `path`, refusing (`StoreOpenError`, file unchanged) anything that is not a
    trio_crawl database or a new file; create, mark or upgrade the schema as needed."""
    _check_path(path)
    try:
        # isolation_level=None: no implicit transactions; _immediate_transaction makes them.
        connection = sqlite3.connect(
            path,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreOpenError(path, f"cannot open database {path}: {exc}") from exc
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Reads only: a refused file must stay exactly as it was (WAL mode would persist).
        state = schema.inspect(connection, path)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        if state is not SchemaState.current:
            with _immediate_transaction(connection):
                # Look again under the write lock: another process may have set it up meanwhile.
                _set_up(connection, schema.inspect(connection, path), path)
    except sqlite3.Error as exc:
        connection.close()
        kind = ErrorKind.database_busy if _is_busy(exc) else ErrorKind.database_error
        raise StoreOpenError(path, f"cannot open database {path}: {exc}", kind) from exc
    except BaseException:
        connection.close()
        raise
    return connection


def _check_path(path: str) -> None:
    """Refuse, with the reason, the paths SQLite would only call "unable to open"."""
    if path == ":memory:":
        return
    target = Path(path)
    if target.is_dir():
        raise StoreOpenError(path, f"cannot use {path} as a database: it is a directory")
    if not target.parent.is_dir():
        raise StoreOpenError(
            path,
            f"cannot create database {path}: directory {target.parent} does not exist"
            " (create it first)",
        )


def _set_up(connection: sqlite3.Connection, state: SchemaState, path: str) -> None:
    if state is SchemaState.empty:
        for statement in DDL:
            connection.execute(statement)
    else:
        # trio_crawl 0.1's unmarked files hold version 1.
        version = 1 if state is SchemaState.unmarked else _user_version(connection)
        for step in range(version + 1, schema.SCHEMA_VERSION + 1):
            for statement in schema.MIGRATIONS[step]:
                connection.execute(statement)
        if state is SchemaState.unmarked:
            logger.info(
                "%s: marked as a trio_crawl database (schema %d)", path, schema.SCHEMA_VERSION
            )
        if version < schema.SCHEMA_VERSION:
            logger.info(
                "%s: upgraded the schema from version %d to %d",
                path,
                version,
                schema.SCHEMA_VERSION,
            )
    connection.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")


def _user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def _identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) `path` names now; None if nothing (or an in-memory database)."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _to_json(value: Mapping[str, Any]) -> str:
    # default=str: a run record must not fail over one odd value (a Path, an enum, a datetime).
    return json.dumps(dict(value), sort_keys=True, default=str)
