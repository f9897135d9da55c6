"""``[http]``: how the crawl presents itself (User-Agent, headers, cookies), where its requests
go (proxy, cache, transport) and what it obeys (robots.txt), with the checks on its values."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .. import __version__
from .errors import ConfigError, ConfigProblem
from .rules import BOOL, DAY, Rule, as_float, frozen, is_number, seconds_up_to

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
                ConfigProblem(path=text, value=name, expected=f"one entry, but {seen[lowered]!r} "
                              "names it too (names are case-insensitive)")
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
        factory=dict, converter=frozen, validator=_table_of(check_headers), hash=False
    )
    """Extra headers sent with every request (``[http.headers]``)."""
    cookies: Mapping[str, str] = attrs.field(
        factory=dict, converter=frozen, validator=_table_of(check_cookies), hash=False
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
            "a number ≥ 0 and ≤ 86400 (a day)", lambda v: is_number(v) and 0 <= v <= DAY
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
