"""Fault injection for the demo server: what can go wrong, how often, and who decides.

Kinds of fault (`FaultKind`), and what a client sees:

- ``500`` / ``502`` / ``503`` — that status with a short error page;
- ``429`` — status 429 with a ``Retry-After: <retry_after_secs>`` header;
- ``slow`` — the right response, but only after ``slow_secs`` (past a client's timeout);
- ``reset`` — the connection is reset (RST) without any response;
- ``truncated`` — ``Content-Length`` promises the whole page, half of it arrives, then close;
- ``malformed`` — 200 with broken HTML: a list page without its product feed, a detail page
  cut off before its title and rows.

`FaultConfig` holds the rates (all 0 by default); `FaultPlan` draws one number per request from
its seeded RNG and picks at most one kind. Only catalogue pages (list and detail) are faulted.
"""

from __future__ import annotations

import enum
import random
from collections import Counter

import attrs


class FaultKind(enum.StrEnum):
    """One kind of injected fault; the value is how stats and logs name it."""

    error_500 = "500"
    error_502 = "502"
    error_503 = "503"
    rate_limited = "429"
    slow = "slow"
    reset = "reset"
    truncated = "truncated"
    malformed = "malformed"


_RATE = attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))


@attrs.frozen
class FaultConfig:
    """How often each fault kind happens (probability per catalogue request), and its details.

    The rates are exclusive outcomes of one draw, so they must add up to at most 1.
    `max_faults_per_url` caps the faults one URL path receives; after that many it is always
    served correctly, which lets a test rely on eventual success.
    """

    rate_500: float = attrs.field(default=0.0, validator=_RATE)
    rate_502: float = attrs.field(default=0.0, validator=_RATE)
    rate_503: float = attrs.field(default=0.0, validator=_RATE)
    rate_429: float = attrs.field(default=0.0, validator=_RATE)
    rate_slow: float = attrs.field(default=0.0, validator=_RATE)
    rate_reset: float = attrs.field(default=0.0, validator=_RATE)
    rate_truncated: float = attrs.field(default=0.0, validator=_RATE)
    rate_malformed: float = attrs.field(default=0.0, validator=_RATE)
    retry_after_secs: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    slow_secs: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    seed: int = 0
    max_faults_per_url: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )

    def __attrs_post_init__(self) -> None:
        total = sum(rate for _, rate in self.rates())
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:.3f}; they must add up to at most 1")

    def rates(self) -> list[tuple[FaultKind, float]]:
        """(kind, rate) for every kind, in the order a draw checks them."""
        return [
            (FaultKind.error_500, self.rate_500),
            (FaultKind.error_502, self.rate_502),
            (FaultKind.error_503, self.rate_503),
            (FaultKind.rate_limited, self.rate_429),
            (FaultKind.slow, self.rate_slow),
            (FaultKind.reset, self.rate_reset),
            (FaultKind.truncated, self.rate_truncated),
            (FaultKind.malformed, self.rate_malformed),
        ]

    @property
    def enabled(self) -> bool:
        return any(rate > 0 for _, rate in self.rates())

    @classmethod
    def low(cls, seed: int = 0) -> FaultConfig:
        """The demo command's preset: a few of everything a retrying crawler must survive.

        About 2 % 5xx, 1 % 429 (Retry-After 1), 0.5 % resets and 0.5 % malformed pages; no URL
        fails more than twice.
        """
        return cls(
            rate_500=0.01,
            rate_502=0.005,
            rate_503=0.005,
            rate_429=0.01,
            retry_after_secs=1,
            rate_reset=0.005,
            rate_malformed=0.005,
            seed=seed,
            max_faults_per_url=2,
        )


class FaultPlan:
    """Decides, request by request, which fault (if any) to inject, and counts them."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._thresholds: list[tuple[float, FaultKind]] = []
        cumulative = 0.0
        for kind, rate in config.rates():
            if rate > 0:
                cumulative += rate
                self._thresholds.append((cumulative, kind))
        #: Faults injected so far, by kind: ``injected["429"] == injected[FaultKind.rate_limited]``.
        self.injected: Counter[str] = Counter()
        self._per_url: dict[str, int] = {}

    def decide(self, url: str) -> FaultKind | None:
        """The fault to inject into this request for `url` (a path), or None to serve it."""
        if not self._thresholds:
            return None
        draw = self._rng.random()
        kind = next((kind for limit, kind in self._thresholds if draw < limit), None)
        if kind is None:
            return None
        cap = self.config.max_faults_per_url
        seen = self._per_url.get(url, 0)
        if cap is not None and seen >= cap:
            return None
        self._per_url[url] = seen + 1
        self.injected[kind] += 1
        return kind

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())
