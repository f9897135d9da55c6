"""Environment overrides: ``TRIO_CRAWL__SECTION__KEY`` variables, one key each, applied over the
file's tables before the config is validated, each bad one reported naming its variable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .errors import ConfigError, ConfigProblem, unknown_name

ENV_PREFIX = "TRIO_CRAWL__"
"""Environment variables starting with this (any case) override the file, one key each."""


def parse_env_value(text: str) -> object:
    """Read an override the way TOML reads a value (``3``, ``2.5``, ``true``, ``["a"]``); text
    that is not a TOML value (``full``) is taken as the string itself."""
    import tomllib  # here: a crawl without overrides never reads TOML

    try:
        document = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    # A newline in the text could smuggle in more keys; then it was not one value.
    return document["value"] if document.keys() == {"value"} else text


def apply_env(
    raw: Mapping[str, Any], env: Mapping[str, str], shape: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of `raw` with every ``TRIO_CRAWL__…`` override applied, and which path each set.

    `shape` is the default configuration as plain tables: the keys a variable may name. A
    variable naming no known key is an error naming the variable, not a silent no-op: a typo
    in an override would otherwise leave the file's value in force unnoticed.
    """
    merged = _plain(raw)
    set_by: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for variable in sorted(env):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        parts = tuple(p.lower() for p in variable[len(ENV_PREFIX) :].split("__"))
        origin = f"environment variable {variable}"
        problem = _check_env_path(parts, shape, env[variable])
        dotted = ".".join(parts)
        if problem is None and dotted in set_by:
            problem = ConfigProblem(
                path=dotted,
                value=env[variable],
                expected=f"one variable per key, but {set_by[dotted]} sets it too",
            )
        if problem is not None:
            problems.append(attrs.evolve(problem, origin=origin))
            continue
        set_by[dotted] = variable
        _set_path(merged, parts, parse_env_value(env[variable]))
    if problems:
        raise ConfigError.from_problems(problems)
    return merged, set_by


def _check_env_path(
    parts: tuple[str, ...], shape: Mapping[str, Any], text: str
) -> ConfigProblem | None:
    """None if `parts` names a leaf key of the configuration, else the problem with it."""
    if len(parts) == 2 and parts[0] == "concurrency" and parts[1] not in shape["concurrency"]:
        return None  # a limit for a stage of the user's own
    if len(parts) == 3 and parts[0] == "retry" and parts[1] not in shape["retry"]:
        shape = {"retry": {parts[1]: shape["retry"]["list_pages"]}}  # a policy of the user's own
    level: Any = shape
    for depth, part in enumerate(parts):
        if not isinstance(level, Mapping):
            parent = ".".join(parts[:depth])
            return ConfigProblem(
                path=".".join(parts[: depth + 1]),
                value=text,
                expected=f"nothing below {parent!r}, which is a single value",
                kind="unknown_key",
            )
        if part not in level:
            tables = all(isinstance(v, Mapping) for v in level.values())
            problem = unknown_name(part, text, list(level), section=tables)
            return problem.under(".".join(parts[:depth]))
        level = level[part]
    if isinstance(level, Mapping):
        path = ".".join(parts)
        return ConfigProblem(
            path=path,
            value=text,
            expected=f"a variable naming one key inside {path or 'a section'}",
        )
    return None


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy whose tables are fresh dicts, so overrides never mutate the caller's mapping."""
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}


def _set_path(target: dict[str, Any], parts: tuple[str, ...], value: object) -> None:
    node = target
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            # The file has a scalar where a table belongs; leave it for validation to report.
            return
        node = child
    node[parts[-1]] = value
