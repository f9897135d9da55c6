"""The configuration's shape: frozen attrs value objects, one per TOML section.

Every field has a default (the original system's, where it had one), so `CrawlConfig()` and an
empty file are both valid. Each field's validator is a `Rule` that knows the human text of what
it allows; the same rule checks direct construction (``CrawlSettings(batch_size=0)``) and, in
`loading`, every raw TOML value before instantiation, so both paths raise `ConfigError` with the
same wording and a file reports all its bad fields at once.

Types are strict on purpose: TOML ``"yes"`` is not a bool and ``2.5`` is not a count; an integer
where a float is expected is fine (and is stored as a float).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import attrs

from ..engine.results import ErrorKind
from ..engine.retry import NETWORK_KINDS, RetryPolicy
from ..engine.settings import EngineSettings, StageSettings
from .errors import ConfigError, ConfigProblem, did_you_mean, one_of
from .http import HttpConfig
from .rules import (
    BOOL,
    DAY,
    HOUR,
    LIMIT,
    POSITIVE_INT,
    WEEK,
    Rule,
    as_float,
    frozen,
    int_at_least,
    int_in_range,
    is_number,
    number_at_least,
    seconds_up_to,
)

STAGES: tuple[str, ...] = ("list_pages", "product_details", "validation", "saving")
"""The catalogue crawl's per-batch stages, in order. Other stage names are welcome too (a
session of your own stages): their ``[concurrency]`` and ``[retry.<name>]`` entries are
checked against the session's stages when it starts."""

RETRY_SECTIONS: tuple[str, ...] = (*STAGES, "status_check")
"""The ``[retry.<name>]`` tables that always exist: one per crawl stage, and the status
check's own."""

DEFAULT_POLICIES: Mapping[str, RetryPolicy] = MappingProxyType(
    {
        "list_pages": RetryPolicy(3, 1000, 30_000, 2.0, 500, NETWORK_KINDS),
        "product_details": RetryPolicy(
            5, 500, 60_000, 1.5, 200, (*NETWORK_KINDS, ErrorKind.parse_error)
        ),
        "validation": RetryPolicy(2, 100, 5000, 1.2, 50, (ErrorKind.validation_error,)),
        "saving": RetryPolicy(10, 200, 30_000, 1.8, 100, (ErrorKind.database_busy,)),
        # The status check fetches list pages, but a page it cannot read must be read again,
        # never taken for the end of the catalogue: it retries parse errors too.
        "status_check": RetryPolicy(
            3, 1000, 30_000, 2.0, 500, (*NETWORK_KINDS, ErrorKind.parse_error)
        ),
    }
)
"""The crawl stages' retry defaults, as the original system had them, and the status check's.
A stage of another name starts from `RetryPolicy()`."""

DEFAULT_STAGE_LIMIT = 10
"""The concurrency of a stage that ``[concurrency]`` does not name."""

class Strategy(enum.StrEnum):
    """Which pages a crawl visits (docs/architecture.md §6, smart range)."""

    continue_from_db = "continue_from_db"
    newest_first = "newest_first"
    full = "full"


_STRATEGY_NAMES = tuple(s.value for s in Strategy)
STRATEGY = Rule(one_of(_STRATEGY_NAMES), lambda v: isinstance(v, Strategy), choices=_STRATEGY_NAMES)


def as_strategy(value: Strategy | str) -> Strategy:
    """Accept a strategy by name; an unknown name is left for `STRATEGY` to explain."""
    try:
        return Strategy(value)
    except ValueError:
        return cast(Strategy, value)


def _section_rule(cls: type) -> Rule:
    return Rule(f"a {cls.__name__}", lambda v: isinstance(v, cls))


def _stage_limits(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(attribute.name, value, "a table of stage names and limits")
    for name, limit in value.items():
        LIMIT.check(limit, f"{attribute.name}.{name}")


def _stage_policies(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping) or not all(
        isinstance(policy, RetryPolicy) for policy in value.values()
    ):
        raise ConfigError(attribute.name, value, "a table of stage names and retry policies")


def _stray_stage(section: str, name: str, stages: tuple[str, ...]) -> ConfigProblem:
    """The problem with a ``[concurrency]``/``[retry]`` entry no stage of the session has."""
    known = stages or ("(none)",)
    return ConfigProblem(
        path=f"{section}.{name}",
        value=name,
        expected=f"a stage of this session ({', '.join(repr(k) for k in known)})",
        suggestion=did_you_mean(name, (*stages, *RETRY_SECTIONS)),
        kind="unknown_key",
    )


@attrs.frozen
class SystemConfig:
    """``[system]``: session-wide time limits and which failures abort a whole session.

    .. versionadded:: 0.1
    """

    session_timeout_secs: float = attrs.field(
        default=3600.0, converter=as_float, validator=seconds_up_to(WEEK, "a week")
    )
    stage_timeout_secs: float = attrs.field(
        default=300.0, converter=as_float, validator=seconds_up_to(WEEK, "a week")
    )
    cancellation_timeout_secs: float = attrs.field(
        default=30.0, converter=as_float, validator=seconds_up_to(DAY, "a day")
    )
    abort_on_database_error: bool = attrs.field(default=False, validator=BOOL)
    abort_on_validation_error: bool = attrs.field(default=False, validator=BOOL)
    outcome_timeout_secs: float = attrs.field(
        default=10.0, converter=as_float, validator=seconds_up_to(HOUR, "an hour")
    )
    """How long recording a session's outcome (its crawl_runs row) may take; a stop takes at
    most ``cancellation_timeout_secs`` plus this."""
    config_poll_secs: float = attrs.field(
        default=1.0, converter=as_float, validator=seconds_up_to(HOUR, "an hour")
    )
    """How often a running session looks at its config file for changes."""


@attrs.frozen
class CrawlSettings:
    """``[crawl]``: which pages to visit and how each request is bounded.

    .. versionadded:: 0.1
    """

    strategy: Strategy = attrs.field(
        default=Strategy.continue_from_db, converter=as_strategy, validator=STRATEGY
    )
    page_range_limit: int = attrs.field(
        default=100, validator=int_in_range(1, 100_000, "the plan holds every page")
    )
    batch_size: int = attrs.field(
        default=10, validator=int_in_range(1, 100_000, "a batch's items are held in memory")
    )
    """List pages per batch."""
    parallel_batches: int = attrs.field(
        default=4, validator=int_in_range(1, 100, "each batch runs its own actors")
    )
    """Batches in flight at once. Stage limits are shared by all of them, so this overlaps a
    batch's slow tail (a retried item) with the next batch's work instead of waiting on it."""
    request_timeout_secs: float = attrs.field(
        default=30.0, converter=as_float, validator=seconds_up_to(DAY, "a day")
    )
    max_retry_after_secs: float = attrs.field(
        default=120.0, converter=as_float, validator=seconds_up_to(DAY, "a day")
    )
    max_response_bytes: int = attrs.field(
        default=10 * 1024 * 1024,
        validator=int_in_range(1024, 1024**3, "1 GiB: each request in flight may hold this much"),
    )
    allow_offsite_redirects: bool = attrs.field(default=False, validator=BOOL)
    parse_timeout_secs: float = attrs.field(
        default=10.0, converter=as_float, validator=seconds_up_to(HOUR, "an hour")
    )
    """How long a parse process may spend on one page; then it is stopped (and replaced) and
    the page fails as ``parse_error: page too complex``. Read when a session opens."""
    max_page_nesting: int = attrs.field(
        default=2000, validator=int_in_range(16, 1_000_000, "parse time grows with its square")
    )
    """The deepest element nesting a page may have; a deeper one fails as ``parse_error: page
    too complex`` before any parser sees it. Read when a session opens."""


@attrs.frozen
class ConcurrencyConfig:
    """``[concurrency]``: how many items each stage runs at once, and the connection pool size.

    The crawl's four stages have fields; any other key names a stage of your own
    (``[concurrency] double = 4``) and lands in `stages`.

    .. versionadded:: 0.1
    """

    list_pages: int = attrs.field(default=5, validator=LIMIT)
    product_details: int = attrs.field(default=20, validator=LIMIT)
    validation: int = attrs.field(default=10, validator=LIMIT)
    saving: int = attrs.field(default=3, validator=LIMIT)
    max_connections: int = attrs.field(default=50, validator=LIMIT)
    stages: Mapping[str, int] = attrs.field(
        factory=dict, converter=frozen, validator=_stage_limits, hash=False
    )
    """Limits of stages other than the crawl's four, by stage name."""
    parse_processes: int = attrs.field(
        default=1, validator=int_in_range(0, 64, "0 parses in the crawl's own thread")
    )
    """Worker processes that parse pages beside the crawl (`crawling.parsing`); 0: none. A
    machine with one core never runs any. Read when a session opens."""

    def for_stage(self, name: str) -> int | None:
        """The limit configured for stage `name`, or None when nothing names it."""
        if name in STAGES:
            limit: int = getattr(self, name)
            return limit
        return self.stages.get(name)


@attrs.frozen
class RateLimitConfig:
    """``[rate_limit]``: politeness towards the catalogue's servers.

    .. versionadded:: 0.1
    """

    requests_per_second: float = attrs.field(
        default=50.0,
        converter=as_float,
        validator=Rule(
            "a number ≥ 0 and ≤ 100000 (0 means unlimited)",
            lambda v: is_number(v) and 0 <= v <= 100_000,
        ),
    )
    """Requests per second over all hosts; 0 means unlimited."""
    per_host_concurrency: int = attrs.field(
        default=20, validator=int_in_range(1, 1000, "requests in flight to one host")
    )


_POLICY = _section_rule(RetryPolicy)


@attrs.frozen
class RetryConfig:
    """``[retry.<stage>]``: one `RetryPolicy` per stage, each defaulting to that stage's own.

    The crawl's stages and the status check have fields; a table for any other name is a
    stage of your own (``[retry.double]``, from `RetryPolicy()`'s defaults) in `stages`.

    .. versionadded:: 0.1
    """

    list_pages: RetryPolicy = attrs.field(default=DEFAULT_POLICIES["list_pages"], validator=_POLICY)
    product_details: RetryPolicy = attrs.field(
        default=DEFAULT_POLICIES["product_details"], validator=_POLICY
    )
    validation: RetryPolicy = attrs.field(default=DEFAULT_POLICIES["validation"], validator=_POLICY)
    saving: RetryPolicy = attrs.field(default=DEFAULT_POLICIES["saving"], validator=_POLICY)
    status_check: RetryPolicy = attrs.field(
        default=DEFAULT_POLICIES["status_check"], validator=_POLICY
    )
    """The planner's status check: list_pages' policy, plus ``parse_error`` (an unreadable page
    is read again; it is never taken for the end of the catalogue)."""
    stages: Mapping[str, RetryPolicy] = attrs.field(
        factory=dict, converter=frozen, validator=_stage_policies, hash=False
    )
    """Policies of stages other than the built-in ones, by stage name."""

    def for_stage(self, name: str) -> RetryPolicy | None:
        """The policy configured for `name`, or None when nothing names it."""
        if name in RETRY_SECTIONS:
            policy: RetryPolicy = getattr(self, name)
            return policy
        return self.stages.get(name)


_KIND_NAMES = tuple(k.value for k in ErrorKind)

RETRY_RULES: Mapping[str, Rule] = MappingProxyType(
    {
        "max_attempts": POSITIVE_INT,
        "base_delay_ms": int_at_least(0),
        "max_delay_ms": int_at_least(0),
        "backoff_multiplier": number_at_least(1),
        "jitter_ms": int_at_least(0),
    }
)
"""What a ``[retry.<stage>]`` table allows for each scalar `RetryPolicy` field.

`RetryPolicy` lives in the engine and checks ranges with plain ValueErrors; these rules add the
strict typing and the wording a config file needs. ``retry_on`` is checked by `retry_kinds`.
"""

RETRY_ON_EXPECTED = f"a list of error kinds, each {one_of(_KIND_NAMES)}"


def retry_kinds(value: object) -> frozenset[ErrorKind]:
    """Parse ``retry_on`` (a list of kind names) or raise `ConfigError` naming the bad entry."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigError("", value, RETRY_ON_EXPECTED)
    kinds: set[ErrorKind] = set()
    for entry in value:
        if isinstance(entry, ErrorKind):
            kinds.add(entry)
        elif isinstance(entry, str) and entry in _KIND_NAMES:
            kinds.add(ErrorKind(entry))
        else:
            raise ConfigError(
                "", entry, RETRY_ON_EXPECTED, suggestion=did_you_mean(entry, _KIND_NAMES)
            )
    return frozenset(kinds)


@attrs.frozen
class EventsConfig:
    """``[events]``: heartbeat cadence and how far a subscriber may fall behind.

    .. versionadded:: 0.1
    """

    heartbeat_secs: float = attrs.field(
        default=5.0, converter=as_float, validator=seconds_up_to(DAY, "a day")
    )
    subscriber_buffer: int = attrs.field(
        default=1000, validator=int_in_range(1, 100_000, "events held per subscriber")
    )


def _site_options(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError("site", value, "a table of the site's options")
    for name in value:
        if not (isinstance(name, str) and name.isidentifier()):
            raise ConfigError(
                f"site.{name}", name, "an option name a Python keyword argument can take"
            )


@attrs.frozen
class CrawlConfig:
    """The whole configuration: one attribute per TOML section, every knob with a default.

    `source` records the file the configuration was loaded from (None when built in code); it
    is not part of the TOML shape and does not take part in equality, so a reloaded file with
    the same content compares equal.

    .. versionadded:: 0.1
    """

    system: SystemConfig = attrs.field(factory=SystemConfig, validator=_section_rule(SystemConfig))
    crawl: CrawlSettings = attrs.field(
        factory=CrawlSettings, validator=_section_rule(CrawlSettings)
    )
    concurrency: ConcurrencyConfig = attrs.field(
        factory=ConcurrencyConfig, validator=_section_rule(ConcurrencyConfig)
    )
    rate_limit: RateLimitConfig = attrs.field(
        factory=RateLimitConfig, validator=_section_rule(RateLimitConfig)
    )
    retry: RetryConfig = attrs.field(factory=RetryConfig, validator=_section_rule(RetryConfig))
    events: EventsConfig = attrs.field(factory=EventsConfig, validator=_section_rule(EventsConfig))
    http: HttpConfig = attrs.field(factory=HttpConfig, validator=_section_rule(HttpConfig))
    site: Mapping[str, Any] = attrs.field(
        factory=dict, converter=frozen, validator=_site_options, hash=False
    )
    """``[site]``: the site's own options, handed to its factory as keyword arguments
    (``trio-crawl crawl --site package.module:factory``); the site checks them."""
    source: Path | None = attrs.field(default=None, eq=False, kw_only=True)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
    ) -> CrawlConfig:
        """Read a TOML file, apply ``TRIO_CRAWL__…`` overrides (from `os.environ` when `env` is
        None) and validate; raise `ConfigError` listing every problem."""
        from .loading import load_config  # loading imports this module

        return load_config(path, env=env)

    @classmethod
    def from_dict(
        cls, mapping: Mapping[str, Any], *, env: Mapping[str, str] | None = None
    ) -> CrawlConfig:
        """Build from a mapping shaped like the TOML file; overrides apply only when `env` is
        given, so code-built configs do not depend on the process environment."""
        from .loading import config_from_dict

        return config_from_dict(mapping, env=env)

    def engine_settings(self, stages: Iterable[str]) -> EngineSettings:
        """The engine's settings for a session whose stages (and named retry policies, such
        as the planner's ``status_check``) are `stages`.

        Raises `ConfigError` for a ``[concurrency]`` key or ``[retry.<name>]`` table that
        names none of them (a typo, most likely), with a "did you mean".
        """
        keys = tuple(dict.fromkeys(stages))
        problems = [
            _stray_stage(section, name, keys)
            for section, names in (
                ("concurrency", self.concurrency.stages),
                ("retry", self.retry.stages),
            )
            for name in names
            if name not in keys
        ]
        if problems:
            raise ConfigError.from_problems(problems)
        system = self.system
        abort_on: set[ErrorKind] = {
            kind
            for kind, on in (
                (ErrorKind.database_error, system.abort_on_database_error),
                (ErrorKind.validation_error, system.abort_on_validation_error),
                (ErrorKind.database_unusable, True),  # no use fetching what cannot be saved
            )
            if on
        }
        return EngineSettings(
            session_timeout_secs=system.session_timeout_secs,
            stage_timeout_secs=system.stage_timeout_secs,
            grace_secs=system.cancellation_timeout_secs,
            outcome_timeout_secs=system.outcome_timeout_secs,
            parallel_batches=self.crawl.parallel_batches,
            batch_size=self.crawl.batch_size,
            heartbeat_secs=self.events.heartbeat_secs,
            subscriber_buffer=self.events.subscriber_buffer,
            max_retry_after_secs=self.crawl.max_retry_after_secs,
            abort_on=abort_on,
            stages={
                key: StageSettings(
                    self.retry.for_stage(key) or RetryPolicy(),
                    self.concurrency.for_stage(key) or DEFAULT_STAGE_LIMIT,
                )
                for key in keys
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """The TOML-shaped plain dict (enums as names, ``retry_on`` sorted); round-trips exactly
        through `from_dict`."""
        from .loading import unstructure_config

        return unstructure_config(self)
