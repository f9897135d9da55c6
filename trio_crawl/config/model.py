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
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import attrs

from .. import __version__
from ..engine.results import ErrorKind
from ..engine.retry import NETWORK_KINDS, RetryPolicy
from ..engine.settings import EngineSettings, StageSettings
from .errors import ConfigError, ConfigProblem, did_you_mean, one_of

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


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `true` is never a sensible count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def int_at_least(low: int) -> Rule:
    """An integer (never a bool or a float) of at least `low`."""
    return Rule(f"an integer ≥ {low}", lambda v: _is_int(v) and v >= low)


def number_at_least(low: float) -> Rule:
    """An int or float of at least `low`."""
    return Rule(f"a number ≥ {low:g}", lambda v: _is_number(v) and v >= low)


def int_between(low: int, high: int) -> Rule:
    """An integer (never a bool or a float) from `low` to `high`."""
    return Rule(f"an integer from {low:,} to {high:,}", lambda v: _is_int(v) and low <= v <= high)


def int_in_range(low: int, high: int, note: str = "") -> Rule:
    """An integer from `low` to `high`; the bound protects the machine, `note` says why."""
    why = f" ({note})" if note else ""
    return Rule(f"an integer ≥ {low} and ≤ {high}{why}", lambda v: _is_int(v) and low <= v <= high)


def seconds_up_to(high: float, note: str) -> Rule:
    """A duration in seconds above 0 and at most `high` (infinity is refused too)."""
    return Rule(f"a number > 0 and ≤ {high:g} ({note})", lambda v: _is_number(v) and 0 < v <= high)


MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY

BOOL = Rule("true or false", lambda v: isinstance(v, bool))
POSITIVE_INT = int_at_least(1)
LIMIT = int_between(1, MAX_LIMIT)


def as_float(value: float) -> float:
    """Store an int given for a float field as a float, and leave anything else to the rule."""
    return float(value) if _is_int(value) else value


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


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


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
        factory=dict, converter=_frozen, validator=_stage_limits, hash=False
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
            lambda v: _is_number(v) and 0 <= v <= 100_000,
        ),
    )
    """Requests per second over all hosts; 0 means unlimited."""
    per_host_concurrency: int = attrs.field(
        default=20, validator=int_in_range(1, 1000, "requests in flight to one host")
    )


DEFAULT_USER_AGENT = f"trio-crawl/{__version__}"
"""What a crawl calls itself unless ``[http] user_agent`` says otherwise."""

MAX_HEADERS = 100
"""The most ``[http.headers]`` or ``[http.cookies]`` entries a config may hold."""

MAX_HEADER_VALUE = 8192
"""The longest header or cookie value, in characters (servers refuse longer heads)."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")

RESERVED_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "user-agent": "set it with http.user_agent",
        "cookie": "set cookies in [http.cookies]",
        "accept-encoding": "the fetcher asks for the codings it inflates (gzip, deflate)",
        "host": "httpx sets it from the URL",
        "content-length": "httpx frames the request",
        "transfer-encoding": "httpx frames the request",
        "connection": "the connection pool manages connections",
    }
)
"""Headers ``[http.headers]`` may not set, each with the reason."""


def _is_text(value: object, pattern: re.Pattern[str], longest: int) -> bool:
    return isinstance(value, str) and len(value) <= longest and pattern.fullmatch(value) is not None


USER_AGENT = Rule(
    f"a non-empty string of printable ASCII, at most {MAX_HEADER_VALUE} characters",
    lambda v: _is_text(v, _HEADER_VALUE, MAX_HEADER_VALUE) and bool(v.strip()),
)


def _is_proxy_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    if value == "":
        return True
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
    )


PROXY = Rule(
    "an http:// or https:// proxy URL such as 'http://user:pass@proxy:3128', or '' for none",
    _is_proxy_url,
)


def check_headers(value: object) -> dict[str, str]:
    """``[http.headers]`` as a plain dict, or `ConfigError` naming each bad entry (paths are
    relative to the table)."""
    return _check_pairs(
        value,
        what="a table of header names and values",
        value_rule=Rule(
            f"a string of printable ASCII, at most {MAX_HEADER_VALUE} characters",
            lambda v: _is_text(v, _HEADER_VALUE, MAX_HEADER_VALUE),
        ),
        reserved=RESERVED_HEADERS,
    )


def check_cookies(value: object) -> dict[str, str]:
    """``[http.cookies]`` as a plain dict, or `ConfigError` naming each bad entry."""
    return _check_pairs(
        value,
        what="a table of cookie names and values",
        value_rule=Rule(
            "a cookie value: printable ASCII without spaces, '\"', ',', ';' or '\\', "
            f"at most {MAX_HEADER_VALUE} characters",
            lambda v: _is_text(v, _COOKIE_VALUE, MAX_HEADER_VALUE),
        ),
        reserved={},
    )


def _check_pairs(
    value: object, *, what: str, value_rule: Rule, reserved: Mapping[str, str]
) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError("", value, what)
    if len(value) > MAX_HEADERS:
        raise ConfigError("", f"{len(value)} entries", f"{what}, at most {MAX_HEADERS}")
    problems: list[ConfigProblem] = []
    seen: dict[str, str] = {}
    for name, item in value.items():
        text = str(name)
        lowered = text.lower()
        if _TOKEN.fullmatch(text) is None:
            problems.append(
                ConfigProblem(path=text, value=name, expected="a name of letters, digits, '-', '_'")
            )
        elif lowered in reserved:
            problems.append(
                ConfigProblem(path=text, value=name, expected=f"another name ({reserved[lowered]})")
            )
        elif lowered in seen:
            problems.append(
                ConfigProblem(
                    path=text,
                    value=name,
                    expected=f"one entry, but {seen[lowered]!r} "
                    "names it too (names are case-insensitive)",
                )
            )
        try:
            value_rule.check(item, text)
        except ConfigError as exc:
            problems += exc.problems
        seen.setdefault(lowered, text)
    if problems:
        raise ConfigError.from_problems(problems)
    return {str(name): item for name, item in value.items()}


def _table_of(check: Callable[[object], dict[str, str]]) -> Callable[[object, Any, object], None]:
    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        try:
            check(value)
        except ConfigError as exc:
            raise ConfigError.from_problems(p.under(attribute.name) for p in exc.problems) from None

    return validate


@attrs.frozen
class HttpConfig:
    """``[http]``: how the crawl presents itself, where its requests go, and what it obeys.

    .. versionadded:: 0.1
    """

    user_agent: str = attrs.field(default=DEFAULT_USER_AGENT, validator=USER_AGENT)
    """The User-Agent of every request, and the name robots.txt rules are matched against."""
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen, validator=_table_of(check_headers), hash=False
    )
    """Extra headers sent with every request (``[http.headers]``)."""
    cookies: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen, validator=_table_of(check_cookies), hash=False
    )
    """Cookies sent with every request, to every host (``[http.cookies]``)."""
    proxy: str = attrs.field(default="", validator=PROXY)
    """All requests go through this HTTP proxy ('' for none); it wins over the environment."""
    trust_env: bool = attrs.field(default=False, validator=BOOL)
    """Read HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY from the environment (off, so a
    crawl goes only where its config says)."""
    robots_txt: bool = attrs.field(default=True, validator=BOOL)
    """Obey each origin's robots.txt: disallowed URLs are refused, Crawl-delay is honoured."""
    max_crawl_delay_secs: float = attrs.field(
        default=60.0,
        converter=as_float,
        validator=Rule(
            "a number ≥ 0 and ≤ 86400 (a day)", lambda v: _is_number(v) and 0 <= v <= DAY
        ),
    )
    """The most a robots.txt ``Crawl-delay`` may space requests to its host (a site cannot
    stall the crawl for hours)."""
    cache: bool = attrs.field(default=False, validator=BOOL)
    """Keep successful responses on disk and answer repeated requests from there (for
    development re-runs: the cache ignores the site's caching headers)."""
    cache_dir: str = attrs.field(
        default=".trio-crawl-cache",
        validator=Rule("a non-empty directory path", lambda v: isinstance(v, str) and bool(v)),
    )
    cache_ttl_secs: float = attrs.field(
        default=DAY, converter=as_float, validator=seconds_up_to(365 * DAY, "a year")
    )
    """How long a cached response is served before it is fetched again."""
    transport: str = attrs.field(
        default="trio",
        validator=Rule('"trio" or "httpcore"', lambda v: v in ("trio", "httpcore")),
    )
    """Which HTTP/1.1 transport carries requests: trio_crawl's own (``trio``) or httpx's
    httpcore (its transport only: no request goes through httpx's client). A proxy,
    ``trust_env`` or the cache always use httpcore."""


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
        factory=dict, converter=_frozen, validator=_stage_policies, hash=False
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
        factory=dict, converter=_frozen, validator=_site_options, hash=False
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
