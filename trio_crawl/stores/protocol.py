"""What the crawl needs from a store. Implementations raise `StageError` with kind
`database_busy` (lock contention: retried) or `database_error` (anything else).

A backend implements `Store`; to resume, `stores.ledger.Ledger` too; to tell a live run from a
killed one, `RunHeartbeat`. Every site's items are stored the same way: a row per item keyed by
its url, with its position, the list card's fields and a column per field of its record
(`stores.records.RecordTable` says which). The SQLite store is the shape to copy: one module
per concern over one connection (`stores.sqlite`), the SQL in those modules only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .ledger import Ledger

if TYPE_CHECKING:
    from .records import RecordTable


class Store(Protocol):
    async def newest_position(self) -> int | None:
        """The newest stored product's position counted from the oldest
        (`page_id * per_page + index_in_page`), or None when nothing is stored."""
        ...

    async def save_products(self, products: Sequence[Any]) -> int:
        """Upsert `products` (the site's items: Matter `Product`s, or `Record`s) in one
        transaction; returns how many rows were written."""
        ...

    async def start_run(self, session_id: str, config: Mapping[str, Any]) -> None: ...

    async def finish_run(
        self,
        session_id: str,
        status: str,
        counts: Mapping[str, int],
        error: Mapping[str, Any] | None = None,
    ) -> None: ...


@runtime_checkable
class RunHeartbeat(Protocol):
    """A store that can tell a live run from one whose process is gone (`stores.liveness`)."""

    async def heartbeat(self, session_id: str) -> None:
        """Say that session `session_id` is still running."""
        ...


class DatabaseStore(Store, Ledger, RunHeartbeat, Protocol):
    """What `stores.open_store` returns, whichever the backend: a `Store` that is also a
    `stores.ledger.Ledger` and a `RunHeartbeat`, with the reads tests and tools make."""

    @property
    def records(self) -> RecordTable:
        """The table the catalogue's items are kept in."""
        ...

    async def count_products(self) -> int: ...

    async def fetch_products(self) -> list[dict[str, Any]]: ...

    async def runs(self) -> list[dict[str, Any]]: ...
