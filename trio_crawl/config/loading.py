"""Reading a `CrawlConfig`: TOML file → plain dict → environment overrides → cattrs → value.

::

    crawl.toml --tomllib--> dict --TRIO_CRAWL__SECTION__KEY--> dict --cattrs--> CrawlConfig

cattrs does the walking; our structure hooks do the judging. Each table hook refuses unknown
names (with a did-you-mean), each leaf hook applies the field's `Rule` before instantiation, and
each ``[retry.<stage>]`` table is filled from *that stage's* defaults rather than
`RetryPolicy`'s generic ones. cattrs' exception groups are translated into `ConfigError` at the
table they come from, with the dotted path built inside out from cattrs' attribute notes, so
nothing cattrs-specific escapes this module.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import BaseValidationError, ClassValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..engine.retry import RetryPolicy
from .environment import apply_env
from .errors import ConfigError, ConfigProblem, unknown_name
from .http import HttpConfig, check_cookies, check_headers
from .model import (
    DEFAULT_POLICIES,
    RETRY_RULES,
    RETRY_SECTIONS,
    ConcurrencyConfig,
    CrawlConfig,
    CrawlSettings,
    EventsConfig,
    RateLimitConfig,
    RetryConfig,
    Strategy,
    SystemConfig,
    retry_kinds,
)
from .rules import LIMIT, Rule, as_float

_T = TypeVar("_T")
_Hook = Callable[[Any, Any], Any]


def load_config(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None
) -> CrawlConfig:
    """Load `path`, apply overrides from `env` (`os.environ` when None) and validate."""
    file = Path(path)
    raw = _read_toml(file)
    return _build(raw, os.environ if env is None else env, origin=f"file {file}", source=file)


def config_from_dict(
    mapping: Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> CrawlConfig:
    """Validate a TOML-shaped mapping; overrides apply only when `env` is given."""
    return _build(mapping, env if env is not None else {}, origin=None, source=None)


def unstructure_config(config: CrawlConfig) -> dict[str, Any]:
    """`config` as the plain dict a TOML file would hold (without `source`)."""
    result: dict[str, Any] = _converter().unstructure(config)
    return result


def _read_toml(file: Path) -> Mapping[str, Any]:
    def unreadable(detail: str, expected: str) -> ConfigError:
        problem = ConfigProblem(
            path="", value=str(file), expected=expected, kind="unreadable", detail=detail
        )
        return ConfigError.from_problems([problem])

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise unreadable(f"cannot read: {exc.strerror or exc}", "a readable file") from exc
    import tomllib  # here: a config built in code (`from_dict`) reads no TOML

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise unreadable(f"not UTF-8 ({exc.reason})", "a UTF-8 TOML document") from exc
    except tomllib.TOMLDecodeError as exc:
        raise unreadable(f"invalid TOML: {exc}", "a valid TOML document") from exc


def _build(
    raw: object, env: Mapping[str, str], *, origin: str | None, source: Path | None
) -> CrawlConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError("", raw, "a table of sections")
    merged, set_by_env = apply_env(raw, env, unstructure_config(CrawlConfig()))
    try:
        config: CrawlConfig = _converter().structure(merged, CrawlConfig)
    except ConfigError as exc:
        problems = (_attribute(p, set_by_env, origin) for p in exc.problems)
        raise ConfigError.from_problems(problems) from None
    return attrs.evolve(config, source=source)


def _attribute(
    problem: ConfigProblem, set_by_env: Mapping[str, str], origin: str | None
) -> ConfigProblem:
    """Say where a bad value came from: the override that set it, else the file."""
    for path, variable in set_by_env.items():
        if problem.path == path or problem.path.startswith(f"{path}."):
            return attrs.evolve(problem, origin=f"environment variable {variable}")
    return attrs.evolve(problem, origin=origin) if problem.origin is None else problem


# --- cattrs ---------------------------------------------------------------------------------


@functools.cache
def _converter() -> cattrs.Converter:
    """The converter, built once and never changed afterwards."""
    conv = cattrs.Converter(detailed_validation=True)
    for section in (SystemConfig, CrawlSettings, RateLimitConfig, EventsConfig):
        leaf_hooks: dict[str, Any] = {
            a.name: override(struct_hook=_leaf_hook(a)) for a in attrs.fields(section)
        }
        fields_fn = make_dict_structure_fn(section, conv, **leaf_hooks)
        conv.register_structure_hook(section, _table_hook(section, fields_fn))

    # [http]: scalars like the other sections; [http.headers] and [http.cookies] are tables of
    # names the user chooses, each entry checked on its own.
    http_hooks: dict[str, Any] = {
        a.name: override(struct_hook=_leaf_hook(a))
        for a in attrs.fields(HttpConfig)
        if a.name not in ("headers", "cookies")
    }
    http_hooks["headers"] = override(struct_hook=lambda value, _type: check_headers(value))
    http_hooks["cookies"] = override(struct_hook=lambda value, _type: check_cookies(value))
    http_fn = make_dict_structure_fn(HttpConfig, conv, **http_hooks)
    conv.register_structure_hook(HttpConfig, _table_hook(HttpConfig, http_fn))

    # [concurrency] and [retry]: names beyond the built-in fields are stages of the user's own,
    # gathered into `stages` (checked against the session's stages when it starts).
    limit_hooks: dict[str, Any] = {
        a.name: override(struct_hook=_leaf_hook(a))
        for a in attrs.fields(ConcurrencyConfig)
        if a.name != "stages"
    }
    limit_hooks["stages"] = override(struct_hook=_stage_limits_hook)
    concurrency_fn = make_dict_structure_fn(ConcurrencyConfig, conv, **limit_hooks)
    conv.register_structure_hook(
        ConcurrencyConfig, _table_hook(ConcurrencyConfig, concurrency_fn, extra="stages")
    )
    stage_hooks: dict[str, Any] = {
        stage: override(struct_hook=_policy_hook(stage)) for stage in RETRY_SECTIONS
    }
    stage_hooks["stages"] = override(struct_hook=_stage_policies_hook)
    retry_fn = make_dict_structure_fn(RetryConfig, conv, **stage_hooks)
    conv.register_structure_hook(
        RetryConfig, _table_hook(RetryConfig, retry_fn, section=True, extra="stages")
    )

    # Section hooks must exist before this: cattrs resolves field handlers when generating.
    root_fn = make_dict_structure_fn(CrawlConfig, conv, source=override(omit=True))
    conv.register_structure_hook(CrawlConfig, _table_hook(CrawlConfig, root_fn, section=True))

    # A StrEnum is a str, so cattrs would pass the member through; TOML wants the plain name.
    conv.register_unstructure_hook(Strategy, lambda strategy: strategy.value)
    conv.register_unstructure_hook(
        RetryPolicy,
        make_dict_unstructure_fn(
            RetryPolicy, conv, retry_on=override(unstruct_hook=_kinds_to_names)
        ),
    )
    for table in (ConcurrencyConfig, RetryConfig):
        conv.register_unstructure_hook(table, _flatten_stages(conv, table))
    conv.register_unstructure_hook(
        CrawlConfig, make_dict_unstructure_fn(CrawlConfig, conv, source=override(omit=True))
    )
    return conv


def _flatten_stages(conv: cattrs.Converter, table: type) -> Callable[[Any], dict[str, Any]]:
    """Unstructure a table whose `stages` are written beside its fields, as in the file."""
    fields: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(
        table, conv, stages=override(omit=True)
    )

    def unstructure(value: Any) -> dict[str, Any]:
        result: dict[str, Any] = fields(value)
        for name, entry in value.stages.items():
            result[name] = conv.unstructure(entry)
        return result

    return unstructure


def _per_stage(value: object, read: Callable[[str, object], _T]) -> dict[str, _T]:
    """`read(name, entry)` for each entry of a table of stage names, every entry's problems
    reported at once under its name."""
    problems: list[ConfigProblem] = []
    result: dict[str, _T] = {}
    assert isinstance(value, Mapping)
    for name, entry in value.items():
        try:
            result[str(name)] = read(str(name), entry)
        except ConfigError as exc:
            problems += [p.under(str(name)) for p in exc.problems]
    if problems:
        raise ConfigError.from_problems(problems)
    return result


def _limit(name: str, limit: object) -> int:
    LIMIT.check(limit)
    assert isinstance(limit, int)
    return limit


def _stage_limits_hook(value: object, _type: object) -> dict[str, int]:
    return _per_stage(value, _limit)


def _stage_policies_hook(value: object, _type: object) -> dict[str, RetryPolicy]:
    return _per_stage(value, lambda name, table: _policy_hook(name)(table, RetryPolicy))


def _kinds_to_names(kinds: frozenset[Any]) -> list[str]:
    return sorted(k.value for k in kinds)


def _table_names(cls: type) -> list[str]:
    return [a.name for a in attrs.fields(cls) if a.name != "source"]


def _table_hook(
    cls: type[_T],
    fields_fn: Callable[[Any, Any], _T],
    *,
    section: bool = False,
    extra: str | None = None,
) -> _Hook:
    """Structure one table: refuse unknown names (or, with `extra`, gather them into that
    field), then let cattrs fill the known ones.

    Problems come back with paths relative to this table; the enclosing table's hook prefixes
    its own attribute name, so the full dotted path is built on the way out.
    """
    allowed = [name for name in _table_names(cls) if name != extra]

    def structure(value: object, _type: object) -> _T:
        if not isinstance(value, Mapping):
            raise ConfigError("", value, "a table")
        if extra is not None:
            known = {key: item for key, item in value.items() if key in allowed}
            others = {key: item for key, item in value.items() if key not in allowed}
            if others:
                known[extra] = others
            problems: list[ConfigProblem] = []
        else:
            problems = [
                unknown_name(str(key), item, allowed, section=section)
                for key, item in value.items()
                if key not in allowed
            ]
            known = {key: item for key, item in value.items() if key in allowed}
        try:
            result = fields_fn(known, cls)
        # cattrs' exception groups, our ConfigErrors, or a validator's ValueError; anything
        # else is a bug and should surface as itself.
        except (BaseValidationError, ValueError) as exc:
            found = _problems(exc, known)
            if extra is not None:
                # A stage of one's own is written beside the fields, not under `stages`.
                prefix = f"{extra}."
                found = [attrs.evolve(p, path=p.path.removeprefix(prefix)) for p in found]
            raise ConfigError.from_problems([*problems, *found]) from None
        if problems:
            raise ConfigError.from_problems(problems)
        return result

    return structure


def _problems(exc: BaseException, value: object) -> list[ConfigProblem]:
    """Translate what structuring `value` raised into problems with paths relative to it."""
    if isinstance(exc, ConfigError):
        return list(exc.problems)
    if isinstance(exc, ClassValidationError):
        table = value if isinstance(value, Mapping) else {}
        noted, others = exc.group_exceptions()
        found: list[ConfigProblem] = []
        for sub, note in noted:
            found += [p.under(note.name) for p in _problems(sub, table.get(note.name))]
        for sub in others:
            found += _problems(sub, value)
        return found
    if isinstance(exc, BaseValidationError):
        return [p for sub in exc.exceptions for p in _problems(sub, value)]
    # A check we did not anticipate (say, a new validator in the engine) is still a
    # ConfigError, with its own words as the explanation.
    return [ConfigProblem(path="", value=value, expected=f"a valid value ({exc})")]


def _leaf_hook(attribute: attrs.Attribute[Any]) -> _Hook:
    """Convert then check one raw value with the field's own converter and `Rule`."""
    rule = attribute.validator
    convert = attribute.converter
    if not isinstance(rule, Rule):
        raise TypeError(f"{attribute.name} has no Rule validator")  # a programming error

    def structure(value: object, _type: object) -> object:
        if callable(convert):
            value = convert(value)
        rule.check(value)
        return value

    return structure


def _policy_hook(stage: str) -> _Hook:
    """Structure ``[retry.<stage>]`` on top of that stage's defaults.

    A partial table such as ``[retry.saving] max_attempts = 3`` must keep *saving's* other
    values; structuring a bare `RetryPolicy` would silently use its generic defaults instead.
    A stage of the user's own starts from `RetryPolicy()`.
    """
    defaults = DEFAULT_POLICIES.get(stage, RetryPolicy())
    allowed = [a.name for a in attrs.fields(RetryPolicy)]

    def structure(value: object, _type: object) -> RetryPolicy:
        if not isinstance(value, Mapping):
            raise ConfigError("", value, "a table")
        problems: list[ConfigProblem] = []
        given: dict[str, Any] = {}
        for key, item in value.items():
            try:
                if key == "retry_on":
                    given[key] = retry_kinds(item)
                elif key in RETRY_RULES:
                    # RetryPolicy's one float field; ints elsewhere must stay ints.
                    converted = as_float(item) if key == "backoff_multiplier" else item
                    RETRY_RULES[key].check(converted)
                    given[key] = converted
                else:
                    problems.append(unknown_name(str(key), item, allowed))
            except ConfigError as exc:
                problems += [p.under(str(key)) for p in exc.problems]
        if not problems:
            base = given.get("base_delay_ms", defaults.base_delay_ms)
            top = given.get("max_delay_ms", defaults.max_delay_ms)
            if top < base:
                problems.append(
                    ConfigProblem(
                        path="max_delay_ms",
                        value=top,
                        expected=f"an integer ≥ base_delay_ms ({base})",
                    )
                )
        if problems:
            raise ConfigError.from_problems(problems)
        return attrs.evolve(defaults, **given)

    return structure
