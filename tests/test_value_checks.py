"""The value objects outside the config refuse what makes no sense, as the config does.

The config checks a file's values first, with its own messages; these are the second line, for
code that builds the values directly (attrs' own `gt`/`ge`/`le` validators).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from trio_crawl.crawling.http import FetchSettings
from trio_crawl.demo import FaultConfig
from trio_crawl.engine import EngineSettings, RetryPolicy

REFUSED: list[tuple[str, Callable[[], object]]] = [
    ("session_timeout_secs", lambda: EngineSettings(session_timeout_secs=0)),
    ("grace_secs", lambda: EngineSettings(grace_secs=-1)),
    ("heartbeat_secs", lambda: EngineSettings(heartbeat_secs=math.nan)),
    ("max_attempts", lambda: RetryPolicy(max_attempts=0)),
    ("base_delay_ms", lambda: RetryPolicy(base_delay_ms=-1)),
    ("jitter_ms", lambda: RetryPolicy(jitter_ms=-1)),
    ("backoff_multiplier", lambda: RetryPolicy(backoff_multiplier=0.99)),
    ("max_redirects", lambda: FetchSettings(max_redirects=-1)),
    ("max_headers", lambda: FetchSettings(max_headers=0)),
    ("rate_500", lambda: FaultConfig(rate_500=1.5)),
    ("rate_reset", lambda: FaultConfig(rate_reset=-0.1)),
    ("rate_slow", lambda: FaultConfig(rate_slow=math.nan)),
    ("slow_secs", lambda: FaultConfig(slow_secs=-1)),
    ("retry_after_secs", lambda: FaultConfig(retry_after_secs=-1)),
    ("max_faults_per_url", lambda: FaultConfig(max_faults_per_url=-1)),
]


@pytest.mark.parametrize(("field", "build"), REFUSED, ids=[field for field, _ in REFUSED])
def test_a_value_out_of_range_is_refused_naming_its_field(
    field: str, build: Callable[[], object]
) -> None:
    with pytest.raises(ValueError, match=field):
        build()


def test_the_edges_of_each_range_are_accepted() -> None:
    # Durations must be above 0; counts of attempts at least 1; delays and rates may be 0.
    assert EngineSettings(session_timeout_secs=0.001).session_timeout_secs == 0.001
    policy = RetryPolicy(max_attempts=1, base_delay_ms=0, max_delay_ms=0, jitter_ms=0)
    assert (policy.max_attempts, policy.base_delay_ms, policy.jitter_ms) == (1, 0, 0)
    assert RetryPolicy(backoff_multiplier=1.0).backoff_multiplier == 1.0
    assert FetchSettings(max_redirects=0).max_redirects == 0
    faults = FaultConfig(rate_500=1.0, slow_secs=0, retry_after_secs=0, max_faults_per_url=0)
    assert (faults.rate_500, faults.max_faults_per_url) == (1.0, 0)
    assert FaultConfig(max_faults_per_url=None).max_faults_per_url is None
