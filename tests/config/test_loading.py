"""Loading: TOML and mappings become a `CrawlConfig` or a `ConfigError` that says where, what
and what would do; environment overrides win over the file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.config import (
    DEFAULT_POLICIES,
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
from trio_crawl.config.environment import parse_env_value
from trio_crawl.engine.results import ErrorKind
from trio_crawl.engine.retry import RetryPolicy


def error_for(mapping: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        CrawlConfig.from_dict(mapping, env=env)
    return caught.value


def nested(path: str, value: object) -> dict[str, Any]:
    """{"a": {"b": value}} for "a.b"."""
    result: Any = value
    for part in reversed(path.split(".")):
        result = {part: result}
    assert isinstance(result, dict)
    return result


# --- shape and defaults ---------------------------------------------------------------------


def test_empty_mapping_gives_the_defaults() -> None:
    assert CrawlConfig.from_dict({}) == CrawlConfig()


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text("")
    assert CrawlConfig.load(path, env={}) == CrawlConfig()


def test_empty_sections_give_the_defaults() -> None:
    empty: dict[str, Any] = {
        "system": {},
        "crawl": {},
        "concurrency": {},
        "rate_limit": {},
        "retry": {"saving": {}},
        "events": {},
    }
    assert CrawlConfig.from_dict(empty) == CrawlConfig()


def test_load_reads_every_section_and_records_the_source(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text(
        """
        [system]
        session_timeout_secs = 60
        abort_on_database_error = true
        [crawl]
        strategy = "newest_first"
        batch_size = 4
        [concurrency]
        product_details = 8
        [rate_limit]
        requests_per_second = 0
        [retry.validation]
        max_attempts = 1
        [events]
        heartbeat_secs = 0.5
        """
    )
    config = CrawlConfig.load(path, env={})
    assert config.source == path
    assert config.system.session_timeout_secs == 60.0
    assert config.system.abort_on_database_error is True
    assert config.crawl.strategy is Strategy.newest_first
    assert config.crawl.batch_size == 4
    assert config.concurrency.product_details == 8
    assert config.rate_limit.requests_per_second == 0.0
    assert config.retry.validation.max_attempts == 1
    assert config.events.heartbeat_secs == 0.5
    # untouched knobs keep their defaults
    assert config.crawl.page_range_limit == 100
    assert config.retry.saving == DEFAULT_POLICIES["saving"]


def test_load_accepts_a_string_path(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text("[crawl]\nbatch_size = 2\n")
    assert CrawlConfig.load(str(path), env={}).crawl.batch_size == 2


def test_from_dict_does_not_modify_its_argument() -> None:
    mapping: dict[str, Any] = {"crawl": {"batch_size": 2}}
    CrawlConfig.from_dict(mapping, env={"TRIO_CRAWL__CRAWL__PAGE_RANGE_LIMIT": "7"})
    assert mapping == {"crawl": {"batch_size": 2}}


# --- partial retry tables -------------------------------------------------------------------


def test_partial_retry_table_keeps_that_stages_defaults() -> None:
    config = CrawlConfig.from_dict({"retry": {"saving": {"max_attempts": 3}}})
    assert config.retry.saving == attrs.evolve(DEFAULT_POLICIES["saving"], max_attempts=3)
    # and not RetryPolicy's generic defaults, which differ for every other field
    assert config.retry.saving.base_delay_ms == 200 != RetryPolicy().base_delay_ms
    assert config.retry.saving.retry_on == {ErrorKind.database_busy}


def test_partial_retry_table_leaves_other_stages_alone() -> None:
    config = CrawlConfig.from_dict({"retry": {"validation": {"jitter_ms": 0}}})
    for stage in ("list_pages", "product_details", "saving"):
        assert getattr(config.retry, stage) == DEFAULT_POLICIES[stage]


def test_partial_retry_table_from_a_file_keeps_that_stages_defaults(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text("[retry.product_details]\nbackoff_multiplier = 3\n")
    policy = CrawlConfig.load(path, env={}).retry.product_details
    assert policy == attrs.evolve(DEFAULT_POLICIES["product_details"], backoff_multiplier=3.0)
    assert isinstance(policy.backoff_multiplier, float)


def test_retry_on_names_become_error_kinds() -> None:
    config = CrawlConfig.from_dict(
        {"retry": {"saving": {"retry_on": ["database_busy", "database_error"]}}}
    )
    assert config.retry.saving.retry_on == {ErrorKind.database_busy, ErrorKind.database_error}


def test_empty_retry_on_means_never_retry() -> None:
    config = CrawlConfig.from_dict({"retry": {"list_pages": {"retry_on": []}}})
    assert config.retry.list_pages.retry_on == frozenset()


def test_unknown_retry_kind_is_rejected_with_its_path_and_a_suggestion() -> None:
    error = error_for({"retry": {"saving": {"retry_on": ["database_busy", "databse_error"]}}})
    assert error.path == "retry.saving.retry_on"
    assert error.value == "databse_error"
    assert error.suggestion == "database_error"
    assert "database_busy" in error.expected
    assert str(error).startswith("retry.saving.retry_on: 'databse_error' is not allowed")


def test_retry_on_must_be_a_list_not_one_name() -> None:
    error = error_for({"retry": {"saving": {"retry_on": "database_busy"}}})
    assert error.path == "retry.saving.retry_on"
    assert error.value == "database_busy"


def test_max_delay_below_base_delay_is_rejected_against_the_stage_defaults() -> None:
    # saving's default max_delay_ms is 30000, so a base above it is the conflict
    error = error_for({"retry": {"saving": {"base_delay_ms": 40000}}})
    assert error.path == "retry.saving.max_delay_ms"
    assert error.value == 30000
    assert "40000" in error.expected


# --- bad values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("system.abort_on_database_error", "yes", "true or false"),
        ("system.abort_on_validation_error", 1, "true or false"),
        ("system.session_timeout_secs", "3600", "a number > 0"),
        ("system.config_poll_secs", True, "a number > 0"),
        ("crawl.batch_size", 2.5, "an integer ≥ 1"),
        ("crawl.page_range_limit", "100", "an integer ≥ 1"),
        ("crawl.max_response_bytes", 2048.0, "an integer ≥ 1024"),
        ("crawl.allow_offsite_redirects", "false", "true or false"),
        ("crawl.strategy", 1, "'continue_from_db'"),
        ("concurrency.saving", True, "an integer from 1 to 1,000"),
        ("concurrency.double", "4", "an integer from 1 to 1,000"),
        ("rate_limit.requests_per_second", "fast", "a number ≥ 0"),
        ("rate_limit.per_host_concurrency", [2], "an integer ≥ 1"),
        ("events.subscriber_buffer", 1000.0, "an integer ≥ 1"),
        ("retry.saving.max_attempts", 2.5, "an integer ≥ 1"),
        ("retry.list_pages.base_delay_ms", "1s", "an integer ≥ 0"),
        ("retry.validation.backoff_multiplier", "x", "a number ≥ 1"),
        ("retry.product_details.retry_on", 3, "a list of error kinds"),
    ],
)
def test_wrong_type_names_path_value_and_expectation(
    path: str, value: object, expected: str
) -> None:
    error = error_for(nested(path, value))
    assert error.path == path
    assert error.value == value
    assert type(error.value) is type(value)
    assert expected in error.expected
    assert str(error).startswith(f"{path}: {value!r} is not allowed; expected ")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("system.session_timeout_secs", 0),
        ("system.stage_timeout_secs", -1),
        ("system.cancellation_timeout_secs", float("nan")),
        ("system.config_poll_secs", 0.0),
        ("crawl.page_range_limit", 0),
        ("crawl.batch_size", 0),
        ("crawl.request_timeout_secs", 0),
        ("crawl.max_retry_after_secs", -5),
        ("crawl.max_response_bytes", 1023),
        ("concurrency.list_pages", 0),
        ("concurrency.product_details", -3),
        ("concurrency.validation", 0),
        ("concurrency.saving", 0),
        ("concurrency.max_connections", 0),
        ("rate_limit.requests_per_second", -0.1),
        ("rate_limit.per_host_concurrency", 0),
        ("events.heartbeat_secs", 0),
        ("events.subscriber_buffer", 0),
        ("retry.saving.max_attempts", 0),
        ("retry.list_pages.base_delay_ms", -1),
        ("retry.list_pages.max_delay_ms", -1),
        ("retry.validation.backoff_multiplier", 0.5),
        ("retry.product_details.jitter_ms", -1),
    ],
)
def test_out_of_range_value_names_path_and_value(path: str, value: float) -> None:
    error = error_for(nested(path, value))
    assert error.path == path
    assert error.value == value or value != value  # NaN never equals itself
    assert repr(value) in str(error)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("rate_limit.requests_per_second", 0),
        ("crawl.max_response_bytes", 1024),
        ("crawl.batch_size", 1),
        ("retry.saving.base_delay_ms", 0),
        ("retry.saving.backoff_multiplier", 1),
        ("system.stage_timeout_secs", 0.001),
    ],
)
def test_boundary_values_are_allowed(path: str, value: float) -> None:
    config = CrawlConfig.from_dict(nested(path, value))
    target: Any = config
    for part in path.split("."):
        target = getattr(target, part)
    assert target == value


def test_out_of_range_message_reads_as_documented() -> None:
    error = error_for({"retry": {"saving": {"max_attempts": -1}}})
    assert str(error) == "retry.saving.max_attempts: -1 is not allowed; expected an integer ≥ 1"
    assert (error.path, error.value, error.expected) == (
        "retry.saving.max_attempts",
        -1,
        "an integer ≥ 1",
    )


def test_bad_strategy_suggests_the_close_name() -> None:
    error = error_for({"crawl": {"strategy": "ful"}})
    assert error.path == "crawl.strategy"
    assert error.suggestion == "full"
    assert str(error).endswith("did you mean 'full'?")


@pytest.mark.parametrize("path", ["crawl", "retry", "retry.saving"])
def test_a_value_where_a_table_belongs_is_rejected(path: str) -> None:
    error = error_for(nested(path, 3))
    assert (error.path, error.value, error.expected) == (path, 3, "a table")


def test_several_problems_are_reported_together_first_path_first() -> None:
    error = error_for(
        {
            "system": {"abort_on_database_error": "yes"},
            "crawl": {"batch_size": 0, "page_range_limit": -1, "page_range_limt": 5},
            "retry": {"saving": {"max_attempts": 0, "jitter_ms": -1}},
        }
    )
    paths = [p.path for p in error.problems]
    assert error.path == paths[0] == "system.abort_on_database_error"
    assert set(paths) == {
        "system.abort_on_database_error",
        "crawl.batch_size",
        "crawl.page_range_limit",
        "crawl.page_range_limt",
        "retry.saving.max_attempts",
        "retry.saving.jitter_ms",
    }
    for path in paths:
        assert path in str(error)


# --- unknown names --------------------------------------------------------------------------


def test_unknown_key_suggests_the_close_name() -> None:
    error = error_for({"crawl": {"page_range_limt": 50}})
    assert str(error) == "crawl.page_range_limt: unknown key; did you mean 'page_range_limit'?"
    assert error.path == "crawl.page_range_limt"
    assert error.value == 50
    assert error.suggestion == "page_range_limit"


def test_unknown_key_without_a_close_name_lists_the_allowed_keys() -> None:
    error = error_for({"events": {"colour": "blue"}})
    assert error.path == "events.colour"
    assert error.suggestion is None
    assert "'heartbeat_secs'" in str(error)
    assert "'subscriber_buffer'" in str(error)


def test_unknown_section_suggests_the_close_name() -> None:
    error = error_for({"concurency": {"saving": 2}})
    assert str(error) == "concurency: unknown section; did you mean 'concurrency'?"
    assert error.value == {"saving": 2}


def test_a_retry_table_for_a_stage_no_session_has_is_rejected_when_the_session_starts() -> None:
    config = CrawlConfig.from_dict({"retry": {"status_chek": {"max_attempts": 2}}})
    with pytest.raises(ConfigError) as caught:
        config.engine_settings(["list_pages", "saving", "status_check"])
    assert caught.value.path == "retry.status_chek"
    assert "did you mean 'status_check'" in str(caught.value)


def test_stages_of_ones_own_get_their_own_limits_and_policies() -> None:
    config = CrawlConfig.from_dict(
        {"concurrency": {"double": 4}, "retry": {"double": {"max_attempts": 7}}},
        env={"TRIO_CRAWL__RETRY__DOUBLE__JITTER_MS": "0"},
    )
    assert config.concurrency.stages == {"double": 4}
    settings = config.engine_settings(["double", "other"]).for_stage("double")
    assert settings.limit == 4
    assert settings.policy == RetryPolicy(max_attempts=7, jitter_ms=0)
    other = config.engine_settings(["double", "other"]).for_stage("other")
    assert other.limit == 10 and other.policy == RetryPolicy()
    assert CrawlConfig.from_dict(config.to_dict()) == config


def test_status_check_has_its_own_policy_that_retries_parse_errors() -> None:
    config = CrawlConfig.from_dict({"retry": {"status_check": {"max_attempts": 2}}})
    policy = config.retry.for_stage("status_check")
    list_pages = config.retry.for_stage("list_pages")
    assert policy is not None and list_pages is not None
    assert policy.max_attempts == 2
    assert ErrorKind.parse_error in policy.retry_on
    assert ErrorKind.parse_error not in list_pages.retry_on


def test_unknown_retry_field_is_rejected() -> None:
    error = error_for({"retry": {"saving": {"max_attempt": 2}}})
    assert error.path == "retry.saving.max_attempt"
    assert error.suggestion == "max_attempts"


def test_source_cannot_be_set_from_the_file() -> None:
    assert error_for({"source": "elsewhere.toml"}).path == "source"


# --- files ----------------------------------------------------------------------------------


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[crawl\nbatch_size = 3\n")
    with pytest.raises(ConfigError) as caught:
        CrawlConfig.load(path, env={})
    assert str(path) in str(caught.value)
    assert "invalid TOML" in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as caught:
        CrawlConfig.load(path, env={})
    assert str(path) in str(caught.value)
    assert caught.value.value == str(path)


def test_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[crawl]\nstrategy = "\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        CrawlConfig.load(path, env={})
    assert str(path) in str(caught.value)


def test_bad_value_in_a_file_says_which_file(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text("[crawl]\nbatch_size = 0\n")
    with pytest.raises(ConfigError) as caught:
        CrawlConfig.load(path, env={})
    assert caught.value.path == "crawl.batch_size"
    assert caught.value.origin == f"file {path}"
    assert str(path) in str(caught.value)


# --- environment overrides ------------------------------------------------------------------


def test_env_override_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text('[retry.saving]\nmax_attempts = 4\n[crawl]\nstrategy = "newest_first"\n')
    env = {
        "TRIO_CRAWL__RETRY__SAVING__MAX_ATTEMPTS": "3",
        "TRIO_CRAWL__CRAWL__STRATEGY": "full",
    }
    config = CrawlConfig.load(path, env=env)
    assert config.retry.saving == attrs.evolve(DEFAULT_POLICIES["saving"], max_attempts=3)
    assert config.crawl.strategy is Strategy.full


def test_load_reads_os_environ_when_env_is_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text("[crawl]\nbatch_size = 4\n")
    monkeypatch.setenv("TRIO_CRAWL__CRAWL__BATCH_SIZE", "6")
    assert CrawlConfig.load(path).crawl.batch_size == 6
    assert CrawlConfig.load(path, env={}).crawl.batch_size == 4


def test_from_dict_ignores_os_environ_unless_env_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIO_CRAWL__CRAWL__BATCH_SIZE", "6")
    assert CrawlConfig.from_dict({}).crawl.batch_size == 10
    assert CrawlConfig.from_dict({}, env=dict(os.environ)).crawl.batch_size == 6


def test_env_variable_names_are_case_insensitive() -> None:
    config = CrawlConfig.from_dict(
        {}, env={"trio_crawl__Concurrency__SAVING": "7", "Trio_Crawl__events__heartbeat_secs": "2"}
    )
    assert config.concurrency.saving == 7
    assert config.events.heartbeat_secs == 2.0


def test_env_lists_and_bools_are_parsed_as_toml() -> None:
    config = CrawlConfig.from_dict(
        {},
        env={
            "TRIO_CRAWL__RETRY__LIST_PAGES__RETRY_ON": '["server_error", "client_error"]',
            "TRIO_CRAWL__SYSTEM__ABORT_ON_DATABASE_ERROR": "true",
        },
    )
    assert config.retry.list_pages.retry_on == {ErrorKind.server_error, ErrorKind.client_error}
    assert config.retry.list_pages.max_attempts == 3
    assert config.system.abort_on_database_error is True


def test_unrelated_env_variables_are_ignored() -> None:
    env = {"PATH": "/bin", "TRIO_CRAWL": "x", "TRIO_CRAWLER__CRAWL__BATCH_SIZE": "0"}
    assert CrawlConfig.from_dict({}, env=env) == CrawlConfig()


@pytest.mark.parametrize(
    ("variable", "path"),
    [
        ("TRIO_CRAWL__CRAWL__PAGE_RANGE_LIMT", "crawl.page_range_limt"),
        ("TRIO_CRAWL__CRAWLING__BATCH_SIZE", "crawling"),
        ("TRIO_CRAWL__RETRY__SAVNG__MAX_TRIES", "retry.savng.max_tries"),
        ("TRIO_CRAWL__RETRY__SAVING__MAX_TRIES", "retry.saving.max_tries"),
        ("TRIO_CRAWL__CRAWL__BATCH_SIZE__EXTRA", "crawl.batch_size.extra"),
        ("TRIO_CRAWL__CRAWL", "crawl"),
        ("TRIO_CRAWL__RETRY__SAVING", "retry.saving"),
    ],
)
def test_env_variable_naming_no_key_is_rejected_naming_the_variable(
    variable: str, path: str
) -> None:
    error = error_for({}, env={variable: "3"})
    assert error.path == path
    assert error.origin == f"environment variable {variable}"
    assert variable in str(error)


def test_bad_env_key_gets_a_suggestion() -> None:
    error = error_for({}, env={"TRIO_CRAWL__CRAWL__BATCHSIZE": "3"})
    assert error.suggestion == "batch_size"


def test_bad_env_value_is_rejected_naming_the_variable() -> None:
    error = error_for({"crawl": {"batch_size": 2}}, env={"TRIO_CRAWL__CRAWL__BATCH_SIZE": "0"})
    assert (error.path, error.value) == ("crawl.batch_size", 0)
    assert "TRIO_CRAWL__CRAWL__BATCH_SIZE" in str(error)


def test_two_env_variables_for_one_key_are_rejected() -> None:
    error = error_for(
        {}, env={"TRIO_CRAWL__CRAWL__BATCH_SIZE": "2", "trio_crawl__crawl__batch_size": "3"}
    )
    assert error.path == "crawl.batch_size"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ("false", False),
        ('["a", "b"]', ["a", "b"]),
        ('"quoted"', "quoted"),
        ("full", "full"),
        ("", ""),
        ("[unclosed", "[unclosed"),
        ("1\nother = 2", "1\nother = 2"),
    ],
)
def test_env_values_are_read_as_toml_values_else_as_text(text: str, value: object) -> None:
    parsed = parse_env_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


# --- round trip -----------------------------------------------------------------------------

counts = st.integers(min_value=1, max_value=2**40)
limits = st.integers(min_value=1, max_value=1000)
STAGE_NAMES = {
    "list_pages",
    "product_details",
    "validation",
    "saving",
    "status_check",
    "max_connections",
}
bools = st.booleans()


def seconds(most: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=0, max_value=most, exclude_min=True)


DAY = 86400


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    base = draw(st.integers(0, 10**7))
    return RetryPolicy(
        max_attempts=draw(counts),
        base_delay_ms=base,
        max_delay_ms=draw(st.integers(base, 10**8)),
        backoff_multiplier=draw(st.floats(min_value=1, allow_nan=False, allow_infinity=False)),
        jitter_ms=draw(st.integers(0, 10**6)),
        retry_on=draw(st.frozensets(st.sampled_from(ErrorKind))),
    )


configs = st.builds(
    CrawlConfig,
    system=st.builds(
        SystemConfig,
        seconds(7 * DAY),
        seconds(7 * DAY),
        seconds(DAY),
        bools,
        bools,
        seconds(3600),
        seconds(3600),
    ),
    crawl=st.builds(
        CrawlSettings,
        strategy=st.sampled_from(Strategy),
        page_range_limit=st.integers(1, 100_000),
        batch_size=st.integers(1, 100_000),
        parallel_batches=st.integers(1, 100),
        request_timeout_secs=seconds(DAY),
        max_retry_after_secs=seconds(DAY),
        max_response_bytes=st.integers(min_value=1024, max_value=2**30),
        allow_offsite_redirects=bools,
    ),
    concurrency=st.builds(
        ConcurrencyConfig,
        limits,
        limits,
        limits,
        limits,
        limits,
        st.dictionaries(st.text(min_size=1).filter(lambda n: n not in STAGE_NAMES), limits),
        st.integers(0, 64),
    ),
    rate_limit=st.builds(RateLimitConfig, st.floats(0, 100_000), st.integers(1, 1000)),
    retry=st.builds(
        RetryConfig,
        policies(),
        policies(),
        policies(),
        policies(),
        policies(),
        st.dictionaries(st.text(min_size=1).filter(lambda n: n not in STAGE_NAMES), policies()),
    ),
    events=st.builds(EventsConfig, seconds(DAY), st.integers(1, 100_000)),
)


def toml_shaped(value: object) -> bool:
    """Only what a TOML document can hold: tables of str keys, lists, str, int, float, bool."""
    if isinstance(value, dict):
        return all(type(k) is str and toml_shaped(v) for k, v in value.items())
    if isinstance(value, list):
        return all(toml_shaped(v) for v in value)
    return type(value) in (str, int, float, bool)


@given(configs)
def test_to_dict_round_trips_through_from_dict(config: CrawlConfig) -> None:
    data = config.to_dict()
    assert toml_shaped(data)
    assert CrawlConfig.from_dict(data) == config


def test_to_dict_has_the_toml_shape() -> None:
    data = CrawlConfig().to_dict()
    assert set(data) == {
        "system",
        "crawl",
        "concurrency",
        "rate_limit",
        "retry",
        "events",
        "http",
        "site",
    }
    assert data["crawl"]["strategy"] == "continue_from_db"
    assert data["retry"]["saving"]["retry_on"] == ["database_busy"]
    assert data["retry"]["list_pages"]["retry_on"] == sorted(
        data["retry"]["list_pages"]["retry_on"]
    )
    assert "source" not in data


def test_config_error_survives_pickling() -> None:
    error = error_for({"crawl": {"batch_size": 0, "page_range_limt": 1}})
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.problems == error.problems


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"crawl\.batch_size"):
        CrawlConfig.from_dict({"crawl": {"batch_size": 0}})
