"""Where a crawl's database is: ``--db`` and `open_store` take a path or a URL.

    crawl.db, ./dir/crawl.db            an SQLite file (as always)
    sqlite:///crawl.db                  the same (three slashes: relative; four: absolute)
    postgresql://user:pw@host:port/db   a PostgreSQL database (also postgres://)

Anything else with a ``scheme://`` is refused, as is a URL that cannot be read, with one line
that says why. A password never appears in a message or a printed command (`Database.shown`
leaves it out; libpq finds it in ``PGPASSWORD`` or ``~/.pgpass`` when such a command is run).
The reads the command line makes without a crawl (`read_status`, `recorded_base_url`) go to
the backend's own.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import attrs

from .protocol import DatabaseStore
from .records import RecordTable
from .schema import StoreOpenError
from .status import FAILURES_SHOWN, CrawlStatus

Backend = Literal["sqlite", "postgres"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES = ("postgresql", "postgres")
POSTGRES_EXTRA = "pip install 'trio-crawl[postgres]'"


@attrs.frozen
class Database:
    """A ``--db`` read: the backend, what it opens (a file's path, or the server's URL) and
    how messages name it (the URL without its password)."""

    backend: Backend
    target: str
    shown: str

    @property
    def is_file(self) -> bool:
        return self.backend == "sqlite"


def locate(db: str | os.PathLike[str]) -> Database:
    """Read `db` (see the module's doc); `StoreOpenError` for a URL that cannot be used."""
    text = os.fspath(db)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return Database("sqlite", text, text)
    name = scheme.group(1).lower()
    if name == "sqlite":
        path = text[len("sqlite:///") :] if text.lower().startswith("sqlite:///") else ""
        if not path:
            raise StoreOpenError(
                text,
                f"wrong database URL {text}: an SQLite URL is sqlite:///relative/path or"
                " sqlite:////absolute/path",
            )
        return Database("sqlite", path, path)
    if name in _POSTGRES:
        shown = _without_password(text)
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 (reading it checks it)
        except ValueError as exc:
            raise StoreOpenError(shown, f"wrong database URL {shown}: {exc}") from None
        if parts.query and "=" not in parts.query:
            raise StoreOpenError(shown, f"wrong database URL {shown}: bad query {parts.query!r}")
        return Database("postgres", text, shown)
    raise StoreOpenError(
        text,
        f"unknown database URL scheme {name}:// in {_without_password(text)}; use a file path,"
        " sqlite:///path or postgresql://user:password@host:port/database",
    )


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{host}"))
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)


def _need_psycopg() -> None:
    """Nothing when the PostgreSQL store can load; else the one line that says how."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreOpenError(
            "postgresql", f"a PostgreSQL --db needs psycopg 3 ({exc}): {POSTGRES_EXTRA}"
        ) from exc


@asynccontextmanager
async def open_store(
    db: str | os.PathLike[str],
    *,
    per_page: int = 12,
    records: RecordTable | None = None,
    busy_timeout_ms: int = 1000,
) -> AsyncIterator[DatabaseStore]:
    """Open the store at `db` (a path or a URL: see the module's doc), creating its schema if
    needed; close it on exit. `records` is the site's table (`RecordTable.for_site(site)`),
    `per_page` its page size; `busy_timeout_ms` is SQLite's wait for another writer's lock.
    A database that cannot be used raises `StoreOpenError`, which says why in one line."""
    where = locate(db)
    if where.backend == "postgres":
        _need_psycopg()
        from .postgres import PostgresStore

        async with PostgresStore.open(
            where.target, per_page=per_page, records=records, shown=where.shown
        ) as server:
            yield server
        return
    from .sqlite import SqliteStore

    async with SqliteStore.open(
        where.target, busy_timeout_ms=busy_timeout_ms, per_page=per_page, records=records
    ) as store:
        yield store


def read_status(db: str | os.PathLike[str], failures: int | None = FAILURES_SHOWN) -> CrawlStatus:
    """The status of the crawl stored at `db` (`stores.status`), read without writing."""
    where = locate(db)
    if where.backend == "postgres":
        _need_psycopg()
        from .postgres.status_read import read_status as read_server

        return read_server(where.target, where.shown, failures)
    from .sqlite.status_read import read_status as read_file

    return read_file(where.target, failures)


def recorded_base_url(db: str | os.PathLike[str]) -> str | None:
    """The base URL the last crawl into `db` recorded; None when there is none or no database
    (nothing is created)."""
    where = locate(db)
    if where.backend == "postgres":
        _need_psycopg()
        from .postgres.status_read import recorded_base_url as server_base_url

        try:
            return server_base_url(where.target, where.shown)
        except StoreOpenError:
            return None
    from .sqlite.status_read import recorded_base_url as file_base_url

    return file_base_url(where.target)
