"""Export a catalogue's stored items as JSON Lines or CSV: one flat record per item, oldest
position first.

The items come from the catalogue's record table (the Matter catalogue's is `matter`): its
columns as stored (`stores.records`), the list card's fields as one `card` object (a JSON text
in CSV), `delisted_at` null while an item is listed (a delisted one keeps the position it last
had; `listed_at` says when it was last seen).

Export is a command-line action, not part of a crawl, so it reads with plain blocking sqlite3
through a read-only connection (it never creates or changes a database).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any, Literal, TextIO, TypeAlias

from .location import locate
from .records import MATTER_RECORDS
from .schema import SchemaState, StoreOpenError, inspect

ExportFormat: TypeAlias = Literal["jsonl", "csv"]

Record = dict[str, Any]


def export_products(db_path: str | os.PathLike[str], fmt: ExportFormat, out: TextIO) -> int:
    """Write every item in the database at `db_path` to `out`; returns how many.

    Records have the columns of the catalogue's record table, ordered by
    `(page_id, index_in_page)`.
    `"jsonl"` writes one JSON object a line (integers stay integers, missing values are null);
    `"csv"` writes a header row, then one row a product (missing values are empty) — open `out`
    with `newline=""` for CSV.

    Raises FileNotFoundError when there is no file at `db_path`, ValueError for an unknown
    format, `StoreOpenError` for a file that is not a trio_crawl database of this version.
    """
    writer = _writer_for(fmt)
    where = locate(db_path)
    if where.backend == "postgres":
        from .postgres.status_read import export_records

        return export_records(
            where.target, where.shown, lambda rows, names: writer(rows, names, out)
        )
    path = Path(where.target)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no database to export", str(path))
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as connection:
        state = inspect(connection, db_path)
        if state is SchemaState.empty:
            raise StoreOpenError(db_path, f"{path} is empty, not a trio_crawl database")
        if state is SchemaState.older:
            raise StoreOpenError(
                db_path,
                f"{path} holds an older trio_crawl schema; crawl into it once to upgrade it",
            )
        try:
            table = _record_table(connection)
            cursor = connection.execute(_records_query(table))
        except sqlite3.Error as exc:
            raise StoreOpenError(db_path, f"cannot read {path}: {exc}") from exc
        names = [column[0] for column in cursor.description]
        flags = _boolean_columns(connection, table)
        rows = (_with_booleans(dict(zip(names, row, strict=True)), flags) for row in cursor)
        return writer(rows, names, out)


def _boolean_columns(connection: sqlite3.Connection, table: str) -> frozenset[str]:
    """The columns a record table declares BOOLEAN (SQLite keeps them as 0/1)."""
    quoted = table.replace('"', '""')
    return frozenset(
        row[1]
        for row in connection.execute(f'PRAGMA table_info("{quoted}")')
        if str(row[2]).upper() == "BOOLEAN"
    )


def _with_booleans(record: Record, flags: frozenset[str]) -> Record:
    for name in flags:
        if record.get(name) is not None:
            record[name] = bool(record[name])
    return record


def _record_table(connection: sqlite3.Connection) -> str:
    """The table the catalogue's items are in (as the last crawl recorded it)."""
    row = connection.execute("SELECT record_table FROM catalogue_shape WHERE id = 1").fetchone()
    return MATTER_RECORDS.name if row is None else str(row[0])


def _records_query(table: str) -> str:
    quoted = table.replace('"', '""')
    return f'SELECT * FROM "{quoted}" ORDER BY page_id, index_in_page, delisted_at IS NOT NULL, url'


def _write_jsonl(records: Iterable[Record], names: list[str], out: TextIO) -> int:
    count = 0
    for record in records:
        if isinstance(record.get("card"), str):
            record["card"] = json.loads(record["card"])
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _write_csv(records: Iterable[Record], names: list[str], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=names)
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(
            {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in record.items()}
        )
        count += 1
    return count


def _writer_for(fmt: str) -> Callable[[Iterable[Record], list[str], TextIO], int]:
    if fmt == "jsonl":
        return _write_jsonl
    if fmt == "csv":
        return _write_csv
    raise ValueError(f"unknown export format {fmt!r}; expected 'jsonl' or 'csv'")


_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")


def check_output(db_path: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Refuse (`StoreOpenError`, nothing opened) an output file that would overwrite a database:
    the one being exported (the same file by inode, whatever the name: a link, ``./x.db``, its
    WAL or shared-memory file) or any other SQLite file, which a crawl may be keeping. Opening
    the output for writing truncates it before a single record is read, so this comes first."""
    target = Path(out)
    where = locate(db_path)
    try:
        found = target.stat()
    except FileNotFoundError:
        return  # a new file
    except OSError:
        return  # opening it says why it cannot be written
    # (A server's database is no file here: only the SQLite check below applies.)
    files = [where.target, *(f"{where.target}{tail}" for tail in _SIDE_FILES)]
    for own in (Path(file) for file in files if where.is_file):
        try:
            mine = own.stat()
        except OSError:
            continue
        if (mine.st_dev, mine.st_ino) == (found.st_dev, found.st_ino):
            raise StoreOpenError(
                out,
                f"--out {target} is the database being exported ({own}); writing there would"
                " destroy it: give another output file",
            )
    if _is_sqlite(target):
        raise StoreOpenError(
            out,
            f"--out {target} is an SQLite database (maybe a crawl's); export will not overwrite"
            " it: give another output file",
        )


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER
    except OSError:
        return False
