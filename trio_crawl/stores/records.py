"""Any site's records in SQLite: one table per catalogue, a typed column per field of its record.

The columns come from the record's attrs fields: ``int`` is INTEGER, ``bool`` BOOLEAN (0 or 1,
exported as true/false), ``float``
REAL, ``str`` TEXT, dates, times and decimals TEXT (ISO / exact digits), ``X | None`` the
column of ``X``; anything else (lists, mappings, nested attrs classes) is TEXT holding JSON, as
cattrs unstructures it. Every table also has the store's own columns: ``url`` (the key: the
list card's link), ``page_id``, ``index_in_page`` and ``id`` (the position), ``card`` (the list
card's fields, JSON), the two timestamps, and when it was last listed (``listed_at``) and
delisted (``delisted_at``, null while listed; a table made before these two gets them when the
store opens it). A record field whose name is one of those is kept
as ``record_<name>``. Writes are idempotent upserts by url.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import cattrs

from ..sites.records import ProductDetail
from .schema import LISTING_COLUMNS, TABLES, TABLES_V1, StoreOpenError

OWN_COLUMNS = (
    "url",
    "page_id",
    "index_in_page",
    "id",
    "card",
    "created_at",
    "updated_at",
    *LISTING_COLUMNS,
)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_SCALARS: Mapping[type, str] = {
    bool: "BOOLEAN",  # 0/1 (NUMERIC affinity), declared so that an export writes true/false
    int: "INTEGER",
    float: "REAL",
    str: "TEXT",
    datetime.date: "TEXT",
    datetime.datetime: "TEXT",
    datetime.time: "TEXT",
    decimal.Decimal: "TEXT",
}


def _isoformat(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


_AS_TEXT: Mapping[type, Callable[[Any], str]] = {
    datetime.date: _isoformat,
    datetime.datetime: _isoformat,
    datetime.time: _isoformat,
    decimal.Decimal: str,
}
"""How a value of these declared types is kept: the converter's hooks for them."""

_converter = cattrs.Converter()
for _type, _hook in _AS_TEXT.items():
    _converter.register_unstructure_hook(_type, _hook)
# One encoder of each kind, not one a call: `json.dumps` with any option builds a new encoder
# every time, once or twice a row.
_JSON = json.JSONEncoder(ensure_ascii=False)
_JSON_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_AS_THEY_ARE = (str, int, float, bool)
"""Declared types whose values cattrs unstructures as they are (its fallback is identity)."""
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})
"""Value classes cattrs unstructures as they are when it dispatches on the value's class."""


@attrs.frozen
class Column:
    """One record field's column: its name in the table, the field and how it is stored."""

    name: str
    field: str
    sql_type: str
    as_json: bool


def _without_none(annotation: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``); any other annotation as it is."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1:
            return _without_none(rest[0])
    return annotation


def _sql_type(annotation: Any) -> tuple[str, bool]:
    """(SQL type, stored as JSON) for a field's type."""
    annotation = _without_none(annotation)
    if isinstance(annotation, type) and annotation in _SCALARS:
        return _SCALARS[annotation], False
    return "TEXT", True


Reader = tuple[str, str, Callable[[Any], Any] | None]
"""A column's name, its field, and the hook a value not None goes through (None: as it is)."""


def _readers(
    record_type: type, hints: Mapping[str, Any], columns: Sequence[Column]
) -> tuple[Reader, ...] | None:
    """How to read each column straight from a record, giving what cattrs unstructures it to;
    None unless every field is declared a scalar of `_AS_THEY_ARE` or `_AS_TEXT` (or ``X |
    None``), is set by ``__init__`` and keeps its name there (cattrs leaves out or renames the
    others)."""
    readers: list[Reader] = []
    for field, column in zip(attrs.fields(record_type), columns, strict=True):
        declared = _without_none(hints.get(field.name, Any))
        if not field.init or field.alias != field.name:
            return None
        if declared in _AS_THEY_ARE:
            hook = None
        elif declared in _AS_TEXT:
            hook = _AS_TEXT[declared]
        else:
            return None
        readers.append((column.name, field.name, hook))
    return tuple(readers)


def _card_as_stored(card: dict[str, Any]) -> Any:
    """The card as cattrs unstructures it: itself when every key and value is a plain value."""
    if all(type(key) is str for key in card) and all(
        type(value) in _PLAIN_VALUES for value in card.values()
    ):
        return card
    return _converter.unstructure(card)


class Stored(Protocol):
    """What the store keeps of an item: a `Record`, or anything that reads as one (a ref with
    `url`, `page_id`, `index_in_page`, `id` and the card's fields as `card`; the record as
    `data`)."""

    @property
    def ref(self) -> Any: ...

    @property
    def data(self) -> Any: ...


@attrs.frozen
class RecordTable:
    """Where the records of type `record_type` of the catalogue `name` are kept."""

    name: str
    record_type: type
    columns: tuple[Column, ...] = attrs.field(init=False)
    readers: tuple[Reader, ...] | None = attrs.field(init=False)
    """How a row reads the record's fields without cattrs (`_readers`), which gives the same
    values in several times the time; None: through cattrs."""

    def __attrs_post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"a site's name is its table's name: {self.name!r} must be lower-case letters,"
                " digits and _ (not starting with a digit)"
            )
        if self.name in TABLES or self.name in TABLES_V1 or self.name.startswith("sqlite_"):
            raise ValueError(f"a site may not be called {self.name!r}: the store has that table")
        if not attrs.has(self.record_type):
            raise TypeError(f"{self.record_type!r} is not an attrs class; records must be")
        hints = typing.get_type_hints(self.record_type)
        columns = []
        for field in attrs.fields(self.record_type):
            sql_type, as_json = _sql_type(hints.get(field.name, Any))
            name = f"record_{field.name}" if field.name in OWN_COLUMNS else field.name
            columns.append(Column(name, field.name, sql_type, as_json))
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "readers", _readers(self.record_type, hints, columns))

    @classmethod
    def for_site(cls, site: Any) -> RecordTable | None:
        """The table of a site that declares `name` and `record_type` (a `SiteBase`, the
        Matter catalogue), or None for one that does not (the store then uses
        `MATTER_RECORDS`)."""
        record_type = getattr(site, "record_type", None)
        if record_type is None:
            return None
        return cls(site.name, record_type)

    @property
    def column_names(self) -> tuple[str, ...]:
        return (*OWN_COLUMNS[:5], *(c.name for c in self.columns), *OWN_COLUMNS[5:])

    def ddl(self) -> str:
        typed = [f'"{c.name}" {c.sql_type}' for c in self.columns]
        return (
            f'CREATE TABLE IF NOT EXISTS "{self.name}" (url TEXT PRIMARY KEY,'
            " page_id INTEGER NOT NULL, index_in_page INTEGER NOT NULL, id TEXT NOT NULL,"
            f" card TEXT, {', '.join([*typed, ''])}created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL, listed_at TEXT, delisted_at TEXT)"
        )

    def missing_listing_columns(self, found: Sequence[str]) -> list[str]:
        """The statements that give a table made before `LISTING_COLUMNS` existed those."""
        if not found:
            return []
        return [
            f'ALTER TABLE "{self.name}" ADD COLUMN {column} TEXT'
            for column in LISTING_COLUMNS
            if column not in found
        ]

    def check(self, found: Sequence[str], path: str) -> None:
        """Refuse a table of this name whose columns are not the record's (another record type,
        or an older version of it)."""
        if found and set(found) | set(LISTING_COLUMNS) != set(self.column_names):
            missing = sorted(set(self.column_names) - set(found))
            extra = sorted(set(found) - set(self.column_names))
            raise StoreOpenError(
                path,
                f"{path}: table {self.name} does not fit {self.record_type.__name__}"
                f" (missing {', '.join(missing) or 'nothing'}; not in the record:"
                f" {', '.join(extra) or 'nothing'}); use a new file for this site",
            )

    def row(self, item: Stored, now: str) -> dict[str, Any]:
        ref = item.ref
        record = item.data
        row: dict[str, Any] = {
            "url": ref.url,
            "page_id": ref.page_id,
            "index_in_page": ref.index_in_page,
            "id": ref.id,
            "card": _JSON.encode(_card_as_stored(dict(ref.card))),
            "created_at": now,
            "updated_at": now,
            "listed_at": now,
            "delisted_at": None,
        }
        if self.readers is not None and type(record) is self.record_type:
            for name, field, hook in self.readers:
                value = getattr(record, field)
                if hook is not None and value is not None:
                    value = hook(value)
                row[name] = int(value) if isinstance(value, bool) else value
            return row
        data = _converter.unstructure(record)
        for column in self.columns:
            value = data.get(column.field)
            if column.as_json and value is not None:
                value = _JSON_SORTED.encode(value)
            elif isinstance(value, bool):
                value = int(value)
            row[column.name] = value
        return row


MATTER_RECORDS = RecordTable("matter", ProductDetail)
"""The Matter catalogue's table: a store opened without a `RecordTable` keeps its items there."""
