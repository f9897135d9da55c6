"""Retry policy (data) and retry calculator (pure arithmetic), kept apart so both are testable.

The original system added jitter after the cap, so delays exceeded the maximum; here the cap is
applied last. `Retry-After` raises a delay to at least the server's value, bounded by
`max_retry_after_secs`, and never lowers it.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Iterable
from datetime import UTC, datetime

import attrs

from .results import ErrorKind

NETWORK_KINDS = (
    ErrorKind.network_timeout,
    ErrorKind.network_error,
    ErrorKind.server_error,
    ErrorKind.rate_limited,
)


def _kinds(value: Iterable[ErrorKind | str]) -> frozenset[ErrorKind]:
    return frozenset(ErrorKind(v) if isinstance(v, str) else v for v in value)


@attrs.frozen
class RetryPolicy:
    """How one stage retries a failed item. Times are in milliseconds, as in the config file."""

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    base_delay_ms: int = attrs.field(default=1000, validator=attrs.validators.ge(0))
    max_delay_ms: int = attrs.field(default=30_000, validator=attrs.validators.ge(0))
    backoff_multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1.0))
    jitter_ms: int = attrs.field(default=500, validator=attrs.validators.ge(0))
    retry_on: frozenset[ErrorKind] = attrs.field(default=frozenset(NETWORK_KINDS), converter=_kinds)

    @max_delay_ms.validator
    def _max_not_below_base(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < self.base_delay_ms:
            raise ValueError(
                f"max_delay_ms ({value}) must not be below base_delay_ms ({self.base_delay_ms})"
            )


class RetryCalculator:
    """Pure retry arithmetic for one policy; `rng` is injectable for deterministic tests."""

    __slots__ = ("max_retry_after", "policy", "rng")

    def __init__(
        self,
        policy: RetryPolicy,
        rng: random.Random | None = None,
        *,
        max_retry_after_secs: float = 120.0,
    ) -> None:
        self.policy = policy
        self.rng = rng if rng is not None else random.Random()
        self.max_retry_after = max_retry_after_secs

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        p = self.policy
        raw_ms = p.base_delay_ms * p.backoff_multiplier ** (attempt - 1)
        jitter_ms = self.rng.uniform(0, p.jitter_ms) if p.jitter_ms else 0.0
        seconds: float = min(float(p.max_delay_ms), raw_ms + jitter_ms) / 1000.0
        if retry_after is not None and retry_after > seconds:
            seconds = min(float(retry_after), max(self.max_retry_after, seconds))
        return seconds

    def should_retry(self, kind: ErrorKind, attempts: int) -> bool:
        """True when `kind` is retryable under this policy and attempts remain."""
        return kind in self.policy.retry_on and attempts < self.policy.max_attempts


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date); None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())
