"""A cheaper pickle for the frozen attrs records that cross processes and the listing spool.

Every parsed page crosses a pipe from the parse process pickled, and every list page read is
pickled into the crawl's spool and read back several times. attrs pickles a slotted class as a
dict of its fields (every field's name in every pickle, since each page is pickled on its own)
and restores it with a Python loop that sets one slot at a time; both showed in the crawl's
profile. `positional_pickle` makes a class pickle as its constructor and its field values in
order: smaller, and unpickled by one call to the attrs-made ``__init__``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, SupportsIndex, TypeVar

import attrs

C = TypeVar("C", bound=type)


def positional_pickle(cls: C) -> C:
    """Give the attrs class `cls` a ``__reduce_ex__`` of ``(cls, field values)``.

    Only for a class whose ``__init__`` takes every field positionally, in order, and stores
    it as given (no ``init=False``, ``kw_only``, converter or private name that ``__init__``
    renames), so that calling it again rebuilds an equal instance; anything else is refused
    when the class is defined."""
    names = []
    for field in attrs.fields(cls):
        if not field.init or field.kw_only or field.converter is not None:
            raise TypeError(f"{cls.__name__}.{field.name}: not rebuilt by a positional call")
        if field.alias != field.name:
            raise TypeError(f"{cls.__name__}.{field.name}: __init__ names it {field.alias!r}")
        names.append(field.name)
    values: Callable[[Any], Any] = operator.attrgetter(*names)
    if len(names) == 1:
        single = values
        values = lambda instance: (single(instance),)  # noqa: E731 (attrgetter of one name gives no tuple)

    def __reduce_ex__(self: Any, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        if type(self) is not cls:  # a subclass may have fields of its own: attrs' way
            return object.__reduce_ex__(self, protocol)
        return cls, values(self)

    cls.__reduce_ex__ = __reduce_ex__  # type: ignore[method-assign,assignment]
    return cls
