"""The checks a config value passes: `Rule`, a field's constraint together with the human text
of what it allows, and the common rules the sections share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .errors import ConfigError, did_you_mean

MAX_LIMIT = 1000
"""The most any concurrency limit (or connection count) may be: beyond it a crawl exhausts
the machine long before it gets faster."""


class Rule:
    """One field's constraint together with the human text of what it allows.

    Usable as an attrs validator (raising `ConfigError` with the attribute's name as path) and,
    through `check`, on raw values (with the path left for the caller to fill in).
    """

    __slots__ = ("_accepts", "choices", "expected")

    def __init__(
        self,
        expected: str,
        accepts: Callable[[Any], bool],
        *,
        choices: tuple[str, ...] = (),
    ) -> None:
        self.expected = expected
        self.choices = choices
        self._accepts = accepts

    def check(self, value: object, path: str = "") -> None:
        """Raise `ConfigError` at `path` unless `value` is allowed."""
        if not self._accepts(value):
            raise ConfigError(
                path, value, self.expected, suggestion=did_you_mean(value, self.choices)
            )

    def __call__(self, instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        self.check(value, attribute.name)

    def __repr__(self) -> str:
        return f"Rule({self.expected!r})"


def is_int(value: object) -> bool:
    # bool is an int subclass, but `true` is never a sensible count.
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def int_at_least(low: int) -> Rule:
    """An integer (never a bool or a float) of at least `low`."""
    return Rule(f"an integer ≥ {low}", lambda v: is_int(v) and v >= low)


def number_at_least(low: float) -> Rule:
    """An int or float of at least `low`."""
    return Rule(f"a number ≥ {low:g}", lambda v: is_number(v) and v >= low)


def int_between(low: int, high: int) -> Rule:
    """An integer (never a bool or a float) from `low` to `high`."""
    return Rule(f"an integer from {low:,} to {high:,}", lambda v: is_int(v) and low <= v <= high)


def int_in_range(low: int, high: int, note: str = "") -> Rule:
    """An integer from `low` to `high`; the bound protects the machine, `note` says why."""
    why = f" ({note})" if note else ""
    return Rule(f"an integer ≥ {low} and ≤ {high}{why}", lambda v: is_int(v) and low <= v <= high)


def seconds_up_to(high: float, note: str) -> Rule:
    """A duration in seconds above 0 and at most `high` (infinity is refused too)."""
    return Rule(f"a number > 0 and ≤ {high:g} ({note})", lambda v: is_number(v) and 0 < v <= high)


MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

BOOL = Rule("true or false", lambda v: isinstance(v, bool))
POSITIVE_INT = int_at_least(1)
LIMIT = int_between(1, MAX_LIMIT)


def as_float(value: float) -> float:
    """Store an int given for a float field as a float, and leave anything else to the rule."""
    return float(value) if is_int(value) else value



def frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A table field's value: a read-only copy, so a frozen config stays frozen."""
    return MappingProxyType(dict(value))
