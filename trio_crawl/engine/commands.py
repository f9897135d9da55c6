"""Commands that travel down the actor tree on control memory channels.

Each actor obeys what reaches its channel and passes on what its children must hear: the
session forwards `Pause` and `Resume` to every batch (and `ForBatch` to one), a batch forwards
`Pause`, `Resume` and `Cancel` to the stage it runs. A session-wide stop (`Cancel`,
`Shutdown` sent to the session) is the one stop policy of `engine.control`, not a message.
`Reconfigure` goes down to every running stage.
"""

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


@attrs.frozen
class Reconfigure:
    """Session → batches → stages: the settings in force changed; take up the new limits now
    (a stage adds workers when its limit was raised)."""


Steer: TypeAlias = Pause | Resume | Cancel
"""What one batch can be told on its own."""


@attrs.frozen
class ForBatch:
    """Caller → session: pass `command` to batch `batch_id` alone (at its start, if it has
    not started yet; a batch that has ended ignores it)."""

    batch_id: int
    command: Steer


Command: TypeAlias = (
    ProcessBatch | ExecuteStage | Pause | Resume | Cancel | Shutdown | Reconfigure | ForBatch
)
