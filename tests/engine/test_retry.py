import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.config import DEFAULT_POLICIES
from trio_crawl.engine import ErrorKind, RetryCalculator, RetryPolicy
from trio_crawl.engine.retry import parse_retry_after


def test_default_policies_match_the_design_table() -> None:
    lp = DEFAULT_POLICIES["list_pages"]
    assert (
        lp.max_attempts,
        lp.base_delay_ms,
        lp.max_delay_ms,
        lp.backoff_multiplier,
        lp.jitter_ms,
    ) == (
        3,
        1000,
        30000,
        2.0,
        500,
    )
    assert lp.retry_on == {
        ErrorKind.network_timeout,
        ErrorKind.network_error,
        ErrorKind.server_error,
        ErrorKind.rate_limited,
    }
    pd = DEFAULT_POLICIES["product_details"]
    assert (
        pd.max_attempts,
        pd.base_delay_ms,
        pd.max_delay_ms,
        pd.backoff_multiplier,
        pd.jitter_ms,
    ) == (
        5,
        500,
        60000,
        1.5,
        200,
    )
    assert ErrorKind.parse_error in pd.retry_on
    va = DEFAULT_POLICIES["validation"]
    assert (
        va.max_attempts,
        va.base_delay_ms,
        va.max_delay_ms,
        va.backoff_multiplier,
        va.jitter_ms,
    ) == (
        2,
        100,
        5000,
        1.2,
        50,
    )
    assert va.retry_on == {ErrorKind.validation_error}
    sa = DEFAULT_POLICIES["saving"]
    assert (
        sa.max_attempts,
        sa.base_delay_ms,
        sa.max_delay_ms,
        sa.backoff_multiplier,
        sa.jitter_ms,
    ) == (
        10,
        200,
        30000,
        1.8,
        100,
    )
    assert sa.retry_on == {ErrorKind.database_busy}


@pytest.mark.parametrize(
    ("stage", "attempt", "low", "high"),
    [
        ("list_pages", 1, 1.0, 1.5),
        ("list_pages", 2, 2.0, 2.5),
        ("list_pages", 3, 4.0, 4.5),
        ("list_pages", 10, 30.0, 30.0),
        ("product_details", 1, 0.5, 0.7),
        ("product_details", 3, 1.125, 1.325),
        ("validation", 1, 0.1, 0.15),
        ("saving", 2, 0.36, 0.46),
    ],
)
def test_default_delays_fall_in_documented_ranges(
    stage: str, attempt: int, low: float, high: float
) -> None:
    calculator = RetryCalculator(DEFAULT_POLICIES[stage], random.Random(1))
    for _ in range(200):
        assert low - 1e-9 <= calculator.delay(attempt) <= high + 1e-9


def test_jitter_is_drawn_from_the_injected_rng() -> None:
    a = RetryCalculator(DEFAULT_POLICIES["list_pages"], random.Random(3))
    b = RetryCalculator(DEFAULT_POLICIES["list_pages"], random.Random(3))
    assert [a.delay(1) for _ in range(5)] == [b.delay(1) for _ in range(5)]


@given(
    base=st.integers(0, 10_000),
    extra=st.integers(0, 100_000),
    multiplier=st.floats(1.0, 10.0),
    jitter=st.integers(0, 50_000),
    attempt=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_delay_never_exceeds_max_delay(
    base: int, extra: int, multiplier: float, jitter: int, attempt: int, seed: int
) -> None:
    policy = RetryPolicy(5, base, base + extra, multiplier, jitter)
    delay = RetryCalculator(policy, random.Random(seed)).delay(attempt)
    assert 0 <= delay <= (base + extra) / 1000


def test_retry_after_raises_the_delay() -> None:
    calculator = RetryCalculator(DEFAULT_POLICIES["product_details"], random.Random(0))
    assert calculator.delay(1, retry_after=7) == 7


def test_retry_after_never_lowers_the_delay() -> None:
    policy = RetryPolicy(3, 5000, 5000, 1.0, 0)
    assert RetryCalculator(policy).delay(1, retry_after=1) == 5


def test_retry_after_is_bounded_by_max_retry_after() -> None:
    calculator = RetryCalculator(DEFAULT_POLICIES["list_pages"], max_retry_after_secs=120)
    assert calculator.delay(1, retry_after=3600) == 120


def test_should_retry_respects_kinds_and_attempts() -> None:
    calculator = RetryCalculator(DEFAULT_POLICIES["list_pages"])
    assert calculator.should_retry(ErrorKind.server_error, 1)
    assert calculator.should_retry(ErrorKind.server_error, 2)
    assert not calculator.should_retry(ErrorKind.server_error, 3)
    assert not calculator.should_retry(ErrorKind.client_error, 1)


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 120 ") == 120.0
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == 30.0
    assert (
        parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    )
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="max_delay_ms"):
        RetryPolicy(base_delay_ms=2000, max_delay_ms=1000)
    with pytest.raises(ValueError):
        RetryPolicy(retry_on=["no_such_kind"])
