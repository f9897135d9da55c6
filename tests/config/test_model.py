"""The config's value objects: defaults from docs/architecture.md §4 and §5, checks on direct
construction, and stage lookups that never fall back silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from trio_crawl.config import (
    ConcurrencyConfig,
    ConfigError,
    CrawlConfig,
    CrawlSettings,
    EventsConfig,
    RateLimitConfig,
    RetryConfig,
    Strategy,
    SystemConfig,
)
from trio_crawl.engine.results import ErrorKind
from trio_crawl.engine.retry import RetryPolicy

K = ErrorKind
NETWORK = {K.network_timeout, K.network_error, K.server_error, K.rate_limited}

# docs/architecture.md §4, written out by hand so a drift in the engine's defaults is caught here.
DESIGN_RETRY = {
    "list_pages": (3, 1000, 30000, 2.0, 500, NETWORK),
    "product_details": (5, 500, 60000, 1.5, 200, NETWORK | {K.parse_error}),
    "validation": (2, 100, 5000, 1.2, 50, {K.validation_error}),
    "saving": (10, 200, 30000, 1.8, 100, {K.database_busy}),
}
STAGES = tuple(DESIGN_RETRY)


def test_system_defaults_match_design_table() -> None:
    assert SystemConfig() == SystemConfig(
        session_timeout_secs=3600,
        stage_timeout_secs=300,
        cancellation_timeout_secs=30,
        abort_on_database_error=False,
        abort_on_validation_error=False,
        outcome_timeout_secs=10,
        config_poll_secs=1.0,
    )
    assert attrs.asdict(SystemConfig()) == {
        "session_timeout_secs": 3600,
        "stage_timeout_secs": 300,
        "cancellation_timeout_secs": 30,
        "abort_on_database_error": False,
        "abort_on_validation_error": False,
        "outcome_timeout_secs": 10.0,
        "config_poll_secs": 1.0,
    }


def test_crawl_defaults_match_design_table() -> None:
    assert attrs.asdict(CrawlSettings()) == {
        "strategy": Strategy.continue_from_db,
        "page_range_limit": 100,
        "batch_size": 10,
        "parallel_batches": 4,
        "request_timeout_secs": 30,
        "max_retry_after_secs": 120,
        "max_response_bytes": 10 * 1024 * 1024,
        "allow_offsite_redirects": False,
        "parse_timeout_secs": 10,  # not in the design's table: ours (README, issue 22)
        "max_page_nesting": 2000,
    }


def test_concurrency_rate_limit_and_events_defaults_match_design_table() -> None:
    assert attrs.asdict(ConcurrencyConfig()) == {
        "list_pages": 5,
        "product_details": 20,
        "validation": 10,
        "saving": 3,
        "max_connections": 50,
        "stages": {},
        "parse_processes": 1,  # not in the design's table: ours (README, issue 12)
    }
    assert attrs.asdict(RateLimitConfig()) == {
        "requests_per_second": 50,
        "per_host_concurrency": 20,
    }
    assert attrs.asdict(EventsConfig()) == {"heartbeat_secs": 5, "subscriber_buffer": 1000}


@pytest.mark.parametrize("stage", STAGES)
def test_retry_defaults_match_design_section_4(stage: str) -> None:
    attempts, base, top, multiplier, jitter, kinds = DESIGN_RETRY[stage]
    policy = getattr(RetryConfig(), stage)
    assert policy == RetryPolicy(attempts, base, top, multiplier, jitter, frozenset(kinds))


def test_crawl_config_is_made_of_default_sections() -> None:
    config = CrawlConfig()
    assert config.system == SystemConfig()
    assert config.crawl == CrawlSettings()
    assert config.concurrency == ConcurrencyConfig()
    assert config.rate_limit == RateLimitConfig()
    assert config.retry == RetryConfig()
    assert config.events == EventsConfig()
    assert config.source is None


def test_float_fields_store_ints_as_floats() -> None:
    settings = CrawlSettings(request_timeout_secs=7)
    assert settings.request_timeout_secs == 7.0
    assert isinstance(settings.request_timeout_secs, float)


def test_strategy_accepts_its_name_in_code() -> None:
    assert CrawlSettings(strategy="full").strategy is Strategy.full


@pytest.mark.parametrize(
    ("build", "path", "value"),
    [
        (lambda: CrawlSettings(batch_size=0), "batch_size", 0),
        (lambda: CrawlSettings(batch_size=True), "batch_size", True),
        (lambda: CrawlSettings(strategy="sideways"), "strategy", "sideways"),
        (lambda: SystemConfig(stage_timeout_secs=-1), "stage_timeout_secs", -1.0),
        (
            lambda: SystemConfig(abort_on_database_error=1),  # type: ignore[arg-type]
            "abort_on_database_error",
            1,
        ),
        (lambda: RateLimitConfig(requests_per_second=-0.5), "requests_per_second", -0.5),
        (lambda: EventsConfig(subscriber_buffer=0), "subscriber_buffer", 0),
        (
            lambda: CrawlConfig(crawl=SystemConfig()),  # type: ignore[arg-type]
            "crawl",
            SystemConfig(),
        ),
    ],
)
def test_direct_construction_is_checked_like_a_file(
    build: Callable[[], object], path: str, value: object
) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.path == path
    assert caught.value.value == value
    assert type(caught.value.value) is type(value)


def test_source_does_not_take_part_in_equality() -> None:
    assert CrawlConfig(source=Path("a.toml")) == CrawlConfig(source=None)


def test_configs_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        CrawlConfig().crawl.batch_size = 3  # type: ignore[misc]


@pytest.mark.parametrize("stage", STAGES)
def test_concurrency_for_stage_reads_that_stage(stage: str) -> None:
    limits: dict[str, Any] = {name: 11 + i for i, name in enumerate(STAGES)}
    config = ConcurrencyConfig(**limits)
    assert config.for_stage(stage) == limits[stage]


def test_concurrency_for_a_stage_of_ones_own() -> None:
    config = ConcurrencyConfig(stages={"double": 4})
    assert config.for_stage("double") == 4
    assert config.for_stage("status_check") is None
    assert config.for_stage("triple") is None


def test_concurrency_limits_are_bounded() -> None:
    with pytest.raises(ConfigError, match="from 1 to 1,000"):
        ConcurrencyConfig(max_connections=1_000_000)
    with pytest.raises(ConfigError, match=r"stages\.double"):
        ConcurrencyConfig(stages={"double": 2**63 - 1})


@pytest.mark.parametrize("stage", STAGES)
def test_retry_for_stage_reads_that_stage(stage: str) -> None:
    assert RetryConfig().for_stage(stage) == RetryPolicy(
        *DESIGN_RETRY[stage][:5], frozenset(DESIGN_RETRY[stage][5])
    )


def test_retry_status_check_has_its_own_policy() -> None:
    custom = RetryPolicy(max_attempts=9)
    assert RetryConfig(status_check=custom).for_stage("status_check") is custom
    assert RetryConfig(list_pages=custom).for_stage("status_check") is not custom


@pytest.mark.parametrize("section", ["concurrency", "retry"])
@pytest.mark.parametrize("name", ["savng", "Saving", "status_chek"])
def test_engine_settings_refuse_a_name_no_stage_of_the_session_has(section: str, name: str) -> None:
    value: object = 2 if section == "concurrency" else {"max_attempts": 2}
    config = CrawlConfig.from_dict({section: {name: value}})
    keys = ("list_pages", "product_details", "validation", "saving", "status_check")
    with pytest.raises(ConfigError) as caught:
        config.engine_settings(keys)
    assert caught.value.path == f"{section}.{name}"
    assert caught.value.value == name
    assert "'saving'" in caught.value.expected
    assert config.engine_settings((*keys, name)).for_stage(name) is not None


def test_engine_settings_suggest_the_close_stage_name() -> None:
    config = CrawlConfig.from_dict({"concurrency": {"savng": 2}})
    with pytest.raises(ConfigError, match="did you mean 'saving'"):
        config.engine_settings(["saving"])


def test_engine_settings_carry_every_engine_knob() -> None:
    config = CrawlConfig.from_dict(
        {
            "system": {
                "session_timeout_secs": 9,
                "stage_timeout_secs": 8,
                "cancellation_timeout_secs": 7,
                "outcome_timeout_secs": 6,
                "abort_on_database_error": True,
            },
            "crawl": {"parallel_batches": 3, "batch_size": 2, "max_retry_after_secs": 5},
            "events": {"heartbeat_secs": 4, "subscriber_buffer": 11},
            "concurrency": {"saving": 1},
        }
    )
    settings = config.engine_settings(["saving"])
    assert (
        settings.session_timeout_secs,
        settings.stage_timeout_secs,
        settings.grace_secs,
        settings.outcome_timeout_secs,
        settings.parallel_batches,
        settings.batch_size,
        settings.max_retry_after_secs,
        settings.heartbeat_secs,
        settings.subscriber_buffer,
    ) == (9, 8, 7, 6, 3, 2, 5, 4, 11)
    # A database that can take no more writes always ends the session.
    assert settings.abort_on == {ErrorKind.database_error, ErrorKind.database_unusable}
    assert settings.for_stage("saving").limit == 1
    assert settings.for_stage("saving").policy == config.retry.saving


# --- upper bounds: every count, size and duration has one, stated in its error --------------

WEEK, DAY, HOUR = 7 * 86400, 86400, 3600


@pytest.mark.parametrize(
    ("section", "field", "most", "stated"),
    [
        (SystemConfig, "session_timeout_secs", WEEK, "≤ 604800 (a week)"),
        (SystemConfig, "stage_timeout_secs", WEEK, "≤ 604800 (a week)"),
        (SystemConfig, "cancellation_timeout_secs", DAY, "≤ 86400 (a day)"),
        (SystemConfig, "outcome_timeout_secs", HOUR, "≤ 3600 (an hour)"),
        (SystemConfig, "config_poll_secs", HOUR, "≤ 3600 (an hour)"),
        (CrawlSettings, "page_range_limit", 100_000, "≤ 100000"),
        (CrawlSettings, "batch_size", 100_000, "≤ 100000"),
        (CrawlSettings, "parallel_batches", 100, "≤ 100"),
        (CrawlSettings, "request_timeout_secs", DAY, "≤ 86400 (a day)"),
        (CrawlSettings, "max_retry_after_secs", DAY, "≤ 86400 (a day)"),
        (CrawlSettings, "max_response_bytes", 1024**3, "≤ 1073741824 (1 GiB"),
        (RateLimitConfig, "requests_per_second", 100_000, "≤ 100000"),
        (RateLimitConfig, "per_host_concurrency", 1000, "≤ 1000"),
        (EventsConfig, "heartbeat_secs", DAY, "≤ 86400 (a day)"),
        (EventsConfig, "subscriber_buffer", 100_000, "≤ 100000"),
    ],
)
def test_every_count_size_and_duration_has_an_upper_bound_named_in_its_error(
    section: type, field: str, most: int, stated: str
) -> None:
    assert getattr(section(**{field: most}), field) == most
    too_big: list[float] = [most + 1, 2**63 - 1]
    if isinstance(getattr(section(), field), float):
        too_big.append(float("inf"))
    for value in too_big:
        with pytest.raises(ConfigError) as caught:
            section(**{field: value})
        assert caught.value.path == field
        assert stated in caught.value.expected
    section_name = {
        SystemConfig: "system", CrawlSettings: "crawl",
        RateLimitConfig: "rate_limit", EventsConfig: "events",
    }[section]  # fmt: skip
    with pytest.raises(ConfigError, match=f"{section_name}.{field}: {most + 1!r}"):
        CrawlConfig.from_dict({section_name: {field: most + 1}})
