"""Commands that travel down the actor tree on control memory channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import attrs


@attrs.frozen
class ProcessBatch:
    """Session → batch: run every stage over these first-stage items."""

    batch_id: int
    items: Sequence[Any]


@attrs.frozen
class ExecuteStage:
    """Batch → stage: run this stage over these items."""

    batch_id: int
    items: Sequence[Any]


@attrs.frozen
class Pause:
    """Start no new items (in-flight ones finish) until `Resume`."""


@attrs.frozen
class Resume:
    """Undo `Pause`."""


@attrs.frozen
class Cancel:
    """Stop now: cancel in-flight items, keep (and save) what was completed."""

    reason: str = "cancelled"


@attrs.frozen
class Shutdown:
    """Stop: graceful drains in-flight items first, hard cancels them at once."""

    graceful: bool = True


Command: TypeAlias = ProcessBatch | ExecuteStage | Pause | Resume | Cancel | Shutdown
