"""Upserting many rows by url in a few statements, without statement journals.

A write transaction holds several statements, so SQLite keeps a statement journal for any
statement that changes many rows and may stop half-way: it copies every page the statement
touches first, and a statement of a batch's rows touches more pages than it keeps in memory,
so the copies go to a temporary file. ``INSERT … ON CONFLICT DO UPDATE`` always may (its
update stops on a constraint, whatever the insert's ``OR`` says), so each upsert here is two
statements that never stop half-way, ``OR ROLLBACK`` ending the whole transaction instead
(which the caller would roll back anyway): ``UPDATE OR ROLLBACK … FROM`` the rows, for the
urls stored already, then ``INSERT OR ROLLBACK … ON CONFLICT (url) DO NOTHING`` for the others
(skipped when the update found every url). A url that comes again in the same rows waits for
the next pair of statements, so rows still apply in order.

Many rows in one statement, rather than executemany's statement a row: a statement executes
while the GIL is released, where executemany would hand the GIL back and forth with the crawl
once a row, each time waiting for the crawl's thread to let go of it.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

Row = Mapping[str, Any]


class ManyRows(NamedTuple):
    """Rows to upsert by url, many in one statement (`upsert_many`)."""

    table: str
    """The table, as SQL names it (quoted, or with its schema)."""
    columns: tuple[str, ...]
    """The columns a row fills, in the order of `one_row`."""
    one_row: str
    """One row's ``(?, …)``, constants included."""
    names: tuple[str, ...]
    """The row keys the placeholders of `one_row` take, in order."""
    update: str | None = None
    """What a row whose url is stored already does: ``SET …``, naming the row's values
    ``excluded.<column>`` as an upsert would; None: the stored row stays."""
    update_if: str | None = None
    """The condition a stored row must meet to be updated (an upsert's ``WHERE``)."""


def upsert_many(connection: sqlite3.Connection, statement: ManyRows, rows: Sequence[Row]) -> None:
    """Upsert `rows` with `statement`, in order (a url repeated included), inside the caller's
    transaction."""
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, limit // len(statement.names))
    waves = [rows] if statement.update is None else _waves(rows)
    for wave in waves:
        for start in range(0, len(wave), per_statement):
            chunk = wave[start : start + per_statement]
            values = [row[name] for row in chunk for name in statement.names]
            update, insert = _sql(statement, len(chunk))
            if update is not None and connection.execute(update, values).rowcount == len(chunk):
                continue  # every url was there: nothing to insert
            connection.execute(insert, values)


def _waves(rows: Sequence[Row]) -> Sequence[Sequence[Row]]:
    """`rows` split so that no url comes twice in one: a url's n-th row goes in the n-th."""
    seen: dict[Any, int] = {}
    waves: list[list[Row]] = []
    for row in rows:
        nth = seen.get(row["url"], 0)
        seen[row["url"]] = nth + 1
        if nth == len(waves):
            waves.append([])
        waves[nth].append(row)
    return [rows] if len(waves) <= 1 else waves


@functools.lru_cache(maxsize=256)
def _sql(statement: ManyRows, count: int) -> tuple[str | None, str]:
    """The UPDATE (None without `update`) and the INSERT of `count` rows."""
    rows = ", ".join([statement.one_row] * count)
    columns = ", ".join(f'"{column}"' for column in statement.columns)
    insert = (
        f"INSERT OR ROLLBACK INTO {statement.table} ({columns}) VALUES {rows}"
        " ON CONFLICT (url) DO NOTHING"
    )
    if statement.update is None:
        return None, insert
    named = ", ".join(
        f'column{number} AS "{column}"' for number, column in enumerate(statement.columns, 1)
    )
    where = f"{statement.table}.url = excluded.url"
    if statement.update_if is not None:
        where += f" AND ({statement.update_if})"
    update = (
        f"UPDATE OR ROLLBACK {statement.table} {statement.update}"
        f" FROM (SELECT {named} FROM (VALUES {rows})) AS excluded WHERE {where}"
    )
    return update, insert


@functools.lru_cache(maxsize=64)
def upsert_of(table: str, columns: tuple[str, ...]) -> ManyRows:
    """Every column of `columns` set from the row, `created_at` kept from the first time."""
    assignments = ", ".join(
        f'"{column}" = excluded."{column}"'
        for column in columns
        if column not in ("url", "created_at")
    )
    return ManyRows(
        f'"{table}"',
        columns,
        "(" + ", ".join("?" * len(columns)) + ")",
        columns,
        f"SET {assignments}",
    )
