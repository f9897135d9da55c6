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
from array import array
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


class Fingerprints:
    """The fingerprint of each numbered list page read, by page number: 8 bytes a page in one
    array (a catalogue of a million products has ~83,000 list pages), 0 for a page not read."""

    __slots__ = ("_prints",)

    def __init__(self) -> None:
        self._prints = array("Q")

    def __setitem__(self, page: int, value: int) -> None:
        index = page - 1
        if index < 0:
            return  # no such page: nothing to remember
        prints = self._prints
        if index >= len(prints):
            prints.frombytes(bytes(prints.itemsize * (index + 1 - len(prints))))
        prints[index] = value

    def get(self, page: int) -> int | None:
        """The page's fingerprint, or None if it was not read (or fingerprinted 0, once in
        2**64: then it is parsed again, which is always safe)."""
        index = page - 1
        if 0 <= index < len(self._prints):
            return self._prints[index] or None
        return None


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
