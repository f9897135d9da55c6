"""One store backend as the contract tests see it (the `backend` fixture of tests/conftest.py):
its `--db` (a path or a URL), `open` (through `open_store`, as the crawl opens it), and plain SQL
on the database for what a test checks or sets up behind the store's back.

Test SQL is written once, with ``?`` placeholders (SQLite's); for PostgreSQL they become ``%s``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

from trio_crawl.stores import DatabaseStore, open_store


class Backend:
    def __init__(self, name: str, db: str, tmp_path: Path) -> None:
        self.name = name
        self.db = db
        self.tmp_path = tmp_path

    def __repr__(self) -> str:
        return f"Backend({self.name})"

    @asynccontextmanager
    async def open(self, **options: Any) -> AsyncIterator[DatabaseStore]:
        async with open_store(self.db, **options) as store:
            yield store

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of `query`, each as a dict (booleans as 0/1, as SQLite gives them)."""
        if self.name == "postgres":
            import psycopg
            from psycopg.rows import dict_row

            with psycopg.connect(self.db, autocommit=True, row_factory=dict_row) as connection:
                found = connection.execute(query.replace("?", "%s"), params).fetchall()
            return [
                {k: int(v) if isinstance(v, bool) else v for k, v in row.items()} for row in found
            ]
        with closing(sqlite3.connect(self.db)) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(query, params)]

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement in a transaction of its own."""
        if self.name == "postgres":
            import psycopg

            with psycopg.connect(self.db, autocommit=True) as server:
                server.execute(statement.replace("?", "%s"), params)
            return
        with closing(sqlite3.connect(self.db)) as connection, connection:
            connection.execute(statement, params)
