"""The ledger's rows as every backend writes them: one dict per row, keyed by column.

The backends differ in their SQL (placeholders, upserts, how many rows a round trip carries),
not in what a row holds; building the rows here keeps the two from drifting apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .ledger import LedgerFailure, LedgerPage

Row = dict[str, Any]


def listed_rows(
    page: LedgerPage, refs: Sequence[Any], total: int, session_id: str, now: str
) -> tuple[Row, list[Row]]:
    """A list page read (`page`) and the pending rows of the products it shows still to fetch."""
    page_row = {
        "url": page.url,
        "page": page.page,
        "total": total,
        "session_id": session_id,
        "updated_at": now,
    }
    products = [
        {
            "url": ref.url,
            "page": page.page,
            "total": total,
            "page_id": ref.page_id,
            "index_in_page": ref.index_in_page,
            "session_id": session_id,
            "updated_at": now,
        }
        for ref in refs
    ]
    return page_row, products


def failure_rows(failures: Sequence[LedgerFailure], session_id: str, now: str) -> list[Row]:
    """The rows of the items a run gave up on."""
    return [
        {
            "url": failure.url,
            "item": failure.item,
            "page": failure.page,
            "page_id": failure.page_id,
            "index_in_page": failure.index_in_page,
            "state": failure.state,
            "stage": failure.stage,
            "error_kind": failure.kind,
            "attempts": failure.attempts,
            "last_error": failure.last_error,
            "session_id": session_id,
            "updated_at": now,
        }
        for failure in failures
    ]
