"""A record's row: read straight from a record of scalar fields, and the same as cattrs makes it."""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.sites import Found, Record
from trio_crawl.sites.bookshop import Book
from trio_crawl.sites.records import ProductDetail, ProductRef
from trio_crawl.stores import RecordTable, records
from trio_crawl.stores.records import MATTER_RECORDS

NOW = "2026-12-08T00:00:00.000000+00:00"


@attrs.frozen
class Scalars:
    text: str
    maybe_text: str | None
    count: int
    ratio: float | None
    flag: bool
    maybe_flag: bool | None
    day: datetime.date | None
    moment: datetime.datetime | None
    hour: datetime.time | None
    exact: decimal.Decimal | None
    url: str  # kept as record_url


@attrs.frozen
class ScalarsAndMore(Scalars):
    """Read through cattrs: a subclass of the table's record type."""


@attrs.frozen
class Private:
    _secret: str  # cattrs names it "secret"
    shown: int


@attrs.frozen
class Derived:
    name: str
    length: int = attrs.field(init=False, default=0)  # cattrs leaves it out


def reference_row(table: RecordTable, item: Any) -> dict[str, Any]:
    """A row as the store made it with cattrs alone, for every record type."""
    converter = cattrs.Converter()
    for kind in (datetime.date, datetime.datetime, datetime.time):
        converter.register_unstructure_hook(kind, lambda value: value.isoformat())
    converter.register_unstructure_hook(decimal.Decimal, str)
    data = converter.unstructure(item.data)
    row: dict[str, Any] = {
        "url": item.ref.url,
        "page_id": item.ref.page_id,
        "index_in_page": item.ref.index_in_page,
        "id": item.ref.id,
        "card": json.dumps(converter.unstructure(dict(item.ref.card)), ensure_ascii=False),
        "created_at": NOW,
        "updated_at": NOW,
        "listed_at": NOW,
        "delisted_at": None,
    }
    for column in table.columns:
        value = data.get(column.field)
        if column.as_json and value is not None:
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        elif isinstance(value, bool):
            value = int(value)
        row[column.name] = value
    return row


def found(card: dict[str, Any]) -> Found:
    return Found("http://x.test/item/1/", card, 3, 4, "id-1")


def matter_product(**fields: Any) -> Any:
    from trio_crawl.sites.records import Product

    ref = ProductRef("http://x.test/p/1", "Maker", "Model 1", "CSA-1", 0, 1, "0-1")
    return Product(ref, ProductDetail("http://x.test/p/1", **fields))


def book() -> Record[Book]:
    data = Book(
        title="Zoë's book", author=None, isbn="978", price_pence=1250, currency="GBP",
        available=True, copies=3, pages=None, published=datetime.date(2021, 5, 4),
        description="a\x00b",
    )  # fmt: skip
    return Record(found({"price": "£12.50"}), data)


def test_a_row_of_scalar_fields_is_read_without_cattrs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    converter = records._converter

    class Counted:
        def unstructure(self, value: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(value)
            return converter.unstructure(value, *args, **kwargs)

    monkeypatch.setattr(records, "_converter", Counted())
    matter = matter_product(model="Model 1", vid=4660, pid=1)
    bookshop = RecordTable("bookshop", Book)
    assert MATTER_RECORDS.row(matter, NOW) == reference_row(MATTER_RECORDS, matter)
    assert bookshop.row(book(), NOW) == reference_row(bookshop, book())
    assert calls == []


def test_fields_cattrs_would_leave_out_rename_or_store_as_json_go_through_cattrs() -> None:
    cases: list[tuple[type, Any]] = [
        (Private, Private("hidden", 2)),
        (Derived, Derived("name")),
        (Scalars, ScalarsAndMore(
            "t", None, 1, None, True, None, None, None, None, None, "http://x.test/r"
        )),
    ]  # fmt: skip
    for record_type, data in cases:
        table = RecordTable("shelf", record_type)
        item = Record(found({"where": Path("/a/b"), "n": 1}), data)
        assert table.row(item, NOW) == reference_row(table, item)
    assert RecordTable("shelf", Private).readers is None
    assert RecordTable("shelf", Derived).readers is None


_texts = st.text(max_size=8)
_cards = st.dictionaries(
    _texts, st.one_of(st.none(), st.booleans(), st.integers(), _texts, st.floats()), max_size=4
)


@given(
    text=_texts,
    maybe_text=st.none() | _texts,
    count=st.integers(),
    ratio=st.none() | st.floats(allow_nan=False),
    flag=st.booleans(),
    maybe_flag=st.none() | st.booleans(),
    day=st.none() | st.dates(),
    moment=st.none() | st.datetimes(timezones=st.none() | st.timezones()),
    hour=st.none() | st.times(),
    exact=st.none() | st.decimals(allow_nan=False),
    card=_cards,
)
def test_a_row_read_straight_from_the_record_is_the_row_cattrs_makes(
    card: dict[str, Any], **fields: Any
) -> None:
    table = RecordTable("shelf", Scalars)
    assert table.readers is not None
    item = Record(found(card), Scalars(url="http://x.test/r", **fields))
    assert table.row(item, NOW) == reference_row(table, item)
