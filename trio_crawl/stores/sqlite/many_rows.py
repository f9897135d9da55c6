"""Upserting many rows by url in a few statements, without statement journals.

A write transaction holds several statements, so SQLite keeps a statement journal for any
statement that changes many rows and may stop half-way: it copies every page the statement
touches first, and a statement of a batch's rows touches more pages than it keeps in memory,
so the copies go to a temporary file. ``INSERT … ON CONFLICT DO UPDATE`` always may (its
update stops on a constraint, whatever the insert's ``OR`` says), so each upsert here is two
statements that never stop half-way, ``OR ROLLBACK`` ending the whole transaction instead
(which the caller would roll back anyway): ``UPDATE OR ROLLBACK … FROM`` the rows, for the
urls stored already, and ``INSERT OR ROLLBACK … ON CONFLICT (url) DO NOTHING`` for the others.
Whichever found every row last time goes first, and the other is skipped when it finds every
row again (a first crawl's rows are new, a rerun's stored): a statement is a GIL hand-off or
more, each waiting for the crawl's thread to let go of it. An update that follows the insert
also meets the rows just inserted, which it leaves as they are (`ManyRows.update`). A url that
comes again in the same rows waits for the next pair of statements, so rows still apply in
order.

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
    ``excluded.<column>`` as an upsert would; None: the stored row stays. Applied to a row
    just inserted from the same values it must change nothing (tests/stores/test_many_rows.py
    checks each statement)."""
    update_if: str | None = None
    """The condition a stored row must meet to be updated (an upsert's ``WHERE``)."""


class Upserts:
    """Runs `ManyRows` upserts on one connection, remembering for each statement whether its
    last rows were new (then its insert goes first)."""

    def __init__(self) -> None:
        self._new: dict[ManyRows, bool] = {}

    def many(
        self, connection: sqlite3.Connection, statement: ManyRows, rows: Sequence[Row]
    ) -> None:
        """Upsert `rows` with `statement`, in order (a url repeated included), inside the
        caller's transaction."""
        limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per_statement = max(1, limit // len(statement.names))
        waves = [rows] if statement.update is None else _waves(rows)
        for wave in waves:
            for start in range(0, len(wave), per_statement):
                chunk = wave[start : start + per_statement]
                values = [row[name] for row in chunk for name in statement.names]
                update, insert = _sql(statement, len(chunk))
                if update is None:
                    connection.execute(insert, values)
                elif self._new.get(statement, False):
                    inserted = connection.execute(insert, values).rowcount
                    if inserted < len(chunk):
                        connection.execute(update, values)
                    self._new[statement] = inserted > 0
                else:
                    updated = connection.execute(update, values).rowcount
                    if updated < len(chunk):
                        connection.execute(insert, values)
                    self._new[statement] = updated == 0


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
