"""A stage as a plug-in: "a named async operation over items".

The engine knows nothing of what the items are. The stage's key (its name, or `policy=`) is
the key of its retry policy and concurrency limit in `EngineSettings.stages`, looked up with
the same key everywhere (the original system used mismatched keys and silently fell back to
defaults).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

Handler = Callable[[Any], Awaitable[Any]]


@attrs.frozen
class Stage:
    """One step of a batch. What its handler returns becomes the next stage's items.

    - `fan_out`: the handler returns an iterable; each element is a next-stage item.
    - `batched`: the handler gets the whole list of pending items at once (one database
      transaction, say); a failure fails, and retries, them together.
    - `drain`: when the session stops, the stage still runs over the work already done before
      it, within the stop's grace, so that what was fetched gets saved (see `engine.control`).
    - `count_ok` / `count_failed`: summary counters this stage's items add to.
    - `policy`: the settings key for retry policy and concurrency, when it differs from `name`.
    """

    name: str
    handler: Handler
    fan_out: bool = False
    batched: bool = False
    drain: bool = False
    count_ok: str | None = None
    count_failed: str | None = None
    policy: str | None = None

    @property
    def key(self) -> str:
        return self.policy or self.name
