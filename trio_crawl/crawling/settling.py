"""What a run says about how the catalogue changed, apart from the reading of it.

At the start, the listing against the store (`listing_changes`, for the summary). After the
batches a run reads the catalogue again (`planner.CataloguePlanner.settle`): a different total,
or any page whose products differ, means the catalogue moved during the crawl and the run must
not say `completed` (`catalogue_moved`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..engine.results import StageError
from ..positions import total_products
from ..sites.records import ListPage
from ..stores.ledger import Relisting
from .last_page import CatalogueShape
from .list_reads import Fingerprints


def catalogue_moved(
    before: CatalogueShape,
    read_before: Mapping[int, ListPage],
    prints_before: Fingerprints,
    after: CatalogueShape,
    read_after: Mapping[int, ListPage],
    prints_after: Fingerprints,
    per_page: int,
) -> list[str]:
    """How the catalogue read at the end differs from the one read at the start ([] when it
    does not). A page whose response fingerprint is the same both times shows the same
    products, so only pages that came back different are compared card by card."""
    total_before = total_products(before.last_page, before.on_last, per_page)
    total_after = total_products(after.last_page, after.on_last, per_page)
    changed = []
    if total_after != total_before:
        changed.append(f"{total_before} products when the run began, {total_after} now")
    differ = []
    for page in sorted(read_after):
        known = prints_before.get(page)
        if known is not None and known == prints_after.get(page):
            continue
        if page in read_before and read_after[page].entries != read_before[page].entries:
            differ.append(page)
    if differ:
        shown = ", ".join(str(page) for page in differ[:5])
        more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
        changed.append(f"list page(s) {shown}{more} show other products than they did")
    return changed


def listing_changes(
    failed: Mapping[int, StageError],
    pages: Mapping[int, ListPage],
    change: Relisting,
    stored: frozenset[str],
) -> str:
    """What the listing read at the start changed in the store, for the summary."""
    if failed:
        unread = ", ".join(str(page) for page in sorted(failed))
        return (
            f"list page(s) {unread} could not be read at the start: positions and"
            " delistings not refreshed this run"
        )
    if not stored:
        return ""
    listed = new = 0
    for page in pages:
        for entry in pages[page].entries:
            listed += 1
            new += entry.url not in stored
    if not (new or change.delisted or change.relisted or change.moved):
        return ""
    return (
        f"catalogue: {listed} listed, {new} new to the store, {change.delisted}"
        f" delisted, {change.relisted} listed again, {change.moved} moved"
    )
