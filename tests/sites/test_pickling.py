"""The records' positional pickle (`sites.pickling`): what crosses the parse process's pipe and
the listing spool comes back equal, as constructor calls that name no field."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from trio_crawl.sites.pickling import positional_pickle
from trio_crawl.sites.records import (
    Card,
    Found,
    ListEntry,
    ListPage,
    Product,
    ProductDetail,
    ProductRef,
    Record,
)

REF = ProductRef("http://127.0.0.1:1/p/7", "Acme", "Lamp 7", "CSA0007", 3, 4, "seven")
DETAIL = ProductDetail("http://127.0.0.1:1/p/7", model="Lamp 7", vid=4660, pid=None)
RECORDS: list[Any] = [
    REF,
    DETAIL,
    Product(REF, DETAIL),
    ListPage(3, 334, (REF, ListEntry("http://127.0.0.1:1/p/8", "Acme", "Lamp 8", "CSA8"))),
    ListPage(None, None, (), next_url="http://127.0.0.1:1/list?after=x"),
    Card("http://127.0.0.1:1/b/1", {"title": "A book", "price": 3.5}),
    Record(Found("http://127.0.0.1:1/b/1", {"title": "A book"}, 0, 1, "b1"), {"isbn": "1"}),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_a_record_pickles_as_its_constructor_and_comes_back_equal(record: Any) -> None:
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        data = pickle.dumps(record, protocol=protocol)
        again = pickle.loads(data)
        assert again == record
        assert type(again) is type(record)
    # attrs' own pickle carries each field's name in every pickle; this one none of them.
    names = {field.name for field in attrs.fields(type(record))}
    assert not any(name.encode() in data for name in names - {"id"})
    assert copy.copy(record) == record
    assert copy.deepcopy(record) == record


@attrs.frozen
class Richer(Card):
    """A site's card with a field of its own (module level: pickle finds classes by name)."""

    rank: int = 0


def test_a_subclass_with_fields_of_its_own_keeps_them() -> None:
    richer = Richer("http://127.0.0.1:1/b/2", {}, rank=5)
    assert pickle.loads(pickle.dumps(richer)) == richer


@pytest.mark.parametrize(
    "field",
    [
        attrs.field(init=False, default=1),
        attrs.field(kw_only=True, default=1),
        attrs.field(converter=int, default=1),
        attrs.field(alias="other", default=1),
    ],
)
def test_a_class_a_positional_call_cannot_rebuild_is_refused_when_defined(field: Any) -> None:
    with pytest.raises(TypeError, match="extra"):
        positional_pickle(attrs.make_class("Odd", {"url": attrs.field(), "extra": field}))
