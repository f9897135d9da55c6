"""Reading a list page again costs its fetch, not its parse, when it comes back as it was.

A run reads every list page when it begins and once more when its batches are done (the settle
check, `planner.CataloguePlanner.settle`): a catalogue that moved meanwhile must keep the run
from `completed`. Nearly always nothing moved and each page comes back byte for byte as it did,
so the second reading keeps a fingerprint of what each page's parse was given the first time
(`fingerprint`) and hands back the first reading for a page whose fingerprint is the same: the
same input gives the same parse. A page that differs in any byte the parse can see is parsed
again and compared entry by entry as before, so a change is found just as surely.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from ..sites.records import ListPage
from ..sites.response import Response

VOLATILE_HEADERS = frozenset(
    {"date", "age", "expires", "set-cookie", "x-request-id", "x-runtime", "server-timing"}
)
"""Headers that differ from one response to the next on an unchanged page and that no list
parse reads: left out of the fingerprint, so that they do not make an unchanged page look
changed. Any other header counts (a site's parse may read one)."""


def fingerprint(response: Response) -> int:
    """What a site's `parse_list` can see of `response` (its final URL, status, headers but the
    volatile ones, body), hashed: equal fingerprints mean equal input to the parse. 64 bits of
    BLAKE2b: two different pages of one URL agree by chance once in 2**64."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{response.url}\n{response.status}\n".encode())
    for name, value in response.headers:
        if name.lower() not in VOLATILE_HEADERS:
            digest.update(f"{name.lower()}:{value}\n".encode(errors="surrogateescape"))
    digest.update(b"\n")
    digest.update(response.body)
    return int.from_bytes(digest.digest(), "big")


class ListReads(Protocol):
    """Numbered list pages read with their fingerprints (`stages.CatalogueCrawl` is one)."""

    async def read_list(self, page: int) -> tuple[ListPage, int]:
        """List page `page`, parsed, and the fingerprint of the response it was parsed from."""
        ...

    async def read_list_again(self, page: int, known: int) -> tuple[ListPage | None, int]:
        """List page `page` once more: None for the listing when its response has fingerprint
        `known` (it was not parsed again), else the listing parsed from it; and its
        fingerprint."""
        ...
