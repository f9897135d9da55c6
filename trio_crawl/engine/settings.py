"""The engine's own settings: a small frozen value, built by whoever embeds the engine.

The engine does not read config files. The catalogue crawl builds `EngineSettings` from its
`CrawlConfig` (`trio_crawl.config.engine_settings`); a program embedding the engine directly
builds one in code. A running session takes a new value with `Session.reconfigure`, from the
next attempt or stage on (and at once for concurrency limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .results import ErrorKind
from .retry import RetryPolicy


def _at_least_one(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer of at least 1, got {value!r}")


def _kinds(
    value: frozenset[ErrorKind] | set[ErrorKind] | tuple[ErrorKind, ...],
) -> frozenset[ErrorKind]:
    return frozenset(value)


def _frozen_mapping(value: Mapping[str, StageSettings]) -> Mapping[str, StageSettings]:
    return MappingProxyType(dict(value))


@attrs.frozen
class StageSettings:
    """How one stage (or the planner's named retry policy) retries and how many run at once."""

    policy: RetryPolicy = attrs.field(factory=RetryPolicy)
    limit: int = attrs.field(default=10, validator=_at_least_one)


@attrs.frozen
class EngineSettings:
    """Everything the engine needs to know, with defaults that suit a small job.

    `stages` maps a stage key (`Stage.key`: its name, or its `policy=`) to its settings; a key
    without an entry gets `default_stage`. `grace_secs` is the one grace period of a stop: from
    the first stop, everything still running has that long (see `engine.control`).
    `outcome_timeout_secs` bounds the session's outcome hook, so a stop takes at most
    `grace_secs + outcome_timeout_secs`.
    """

    session_timeout_secs: float = attrs.field(default=3600.0, validator=attrs.validators.gt(0))
    stage_timeout_secs: float = attrs.field(default=300.0, validator=attrs.validators.gt(0))
    grace_secs: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    outcome_timeout_secs: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    parallel_batches: int = attrs.field(default=4, validator=_at_least_one)
    batch_size: int = attrs.field(default=10, validator=_at_least_one)
    heartbeat_secs: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    subscriber_buffer: int = attrs.field(default=1000, validator=_at_least_one)
    max_retry_after_secs: float = attrs.field(default=120.0, validator=attrs.validators.gt(0))
    abort_on: frozenset[ErrorKind] = attrs.field(default=frozenset(), converter=_kinds)
    """Failure kinds that, once an item exhausts its retries with one, end the session
    `failed` (the catalogue crawl's `abort_on_database_error` and friends)."""
    stages: Mapping[str, StageSettings] = attrs.field(
        factory=dict, converter=_frozen_mapping, hash=False
    )
    default_stage: StageSettings = attrs.field(factory=StageSettings)

    def for_stage(self, key: str) -> StageSettings:
        """The settings of the stage (or named policy) `key`."""
        return self.stages.get(key, self.default_stage)
