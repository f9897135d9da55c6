"""The list pages a run reads before any detail page, kept on disk rather than in memory.

Every run reads every list page first (`planner`), and the pages with work carry the cards read
there until their batch runs, after the whole catalogue was read. Held as objects, that is the
whole catalogue in memory at once, however large it is, and twice at the settle check. A
`ListingSpool` keeps each page pickled in a private temporary SQLite file (deleted when it is
closed) with a small page cache, and hands a page back when it is asked for: the crawl holds
only the pages of the batches running.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, MutableMapping, Sequence

from ..sites.records import ListPage

CACHE_KIB = 1024
"""The spool's SQLite page cache: small, since each page is read back once or twice."""


class ListingSpool(MutableMapping[int, ListPage]):
    """List pages by page number, on disk. Used from one thread at a time (the crawl's, or the
    store's while the planner awaits it)."""

    def __init__(self) -> None:
        # "" opens a private temporary database on disk, removed when the connection closes.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            "", check_same_thread=False, isolation_level=None
        )
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE pages (page INTEGER PRIMARY KEY, listing BLOB NOT NULL)")
        self._db.execute("CREATE TABLE claims (url TEXT PRIMARY KEY, page INTEGER NOT NULL)")
        # One transaction for the spool's life, never committed: a commit writes every page it
        # changed to the file, a system call a page, where the spool needs the disk only for
        # what its page cache cannot hold (nothing outlives the connection anyway).
        self._db.execute("BEGIN")

    @property
    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("the listing spool is closed")
        return self._db

    def __setitem__(self, page: int, listing: ListPage) -> None:
        blob = pickle.dumps(listing, protocol=pickle.HIGHEST_PROTOCOL)
        self._open.execute(
            "INSERT INTO pages (page, listing) VALUES (?, ?)"
            " ON CONFLICT (page) DO UPDATE SET listing = excluded.listing",
            (page, blob),
        )

    def __getitem__(self, page: int) -> ListPage:
        row = self._open.execute("SELECT listing FROM pages WHERE page = ?", (page,)).fetchone()
        if row is None:
            raise KeyError(page)
        listing: ListPage = pickle.loads(row[0])
        return listing

    def keep(self, other: ListingSpool, page: int) -> None:
        """Store `other`'s page `page` here as it is stored there, without unpickling it (the
        settle check's pages that came back as they were)."""
        row = other._open.execute("SELECT listing FROM pages WHERE page = ?", (page,)).fetchone()
        if row is None:
            raise KeyError(page)
        self._open.execute(
            "INSERT INTO pages (page, listing) VALUES (?, ?)"
            " ON CONFLICT (page) DO UPDATE SET listing = excluded.listing",
            (page, row[0]),
        )

    def __delitem__(self, page: int) -> None:
        if self._open.execute("DELETE FROM pages WHERE page = ?", (page,)).rowcount == 0:
            raise KeyError(page)

    def __contains__(self, page: object) -> bool:
        found = self._open.execute("SELECT 1 FROM pages WHERE page = ?", (page,)).fetchone()
        return found is not None

    def __iter__(self) -> Iterator[int]:
        """Page numbers in order (read in slices, so a page stored meanwhile is no trouble)."""
        after = -(1 << 62)
        while True:
            rows = self._open.execute(
                "SELECT page FROM pages WHERE page > ? ORDER BY page LIMIT 1000", (after,)
            ).fetchall()
            if not rows:
                return
            for (page,) in rows:
                yield page
            after = rows[-1][0]

    def claim(self, page: int, urls: Sequence[str]) -> tuple[str, int] | None:
        """Note that `page` shows `urls`: the first of them shown before (on a page claimed
        earlier, or earlier on this one), with the page that showed it, or None. Claiming the
        pages in order finds what a listing read while the catalogue moved shows twice."""
        db = self._open
        before = db.total_changes
        db.executemany(
            "INSERT INTO claims (url, page) VALUES (?, ?) ON CONFLICT (url) DO NOTHING",
            [(url, page) for url in urls],
        )
        if db.total_changes - before == len(urls):
            return None
        here: set[str] = set()
        for url in urls:
            (first,) = db.execute("SELECT page FROM claims WHERE url = ?", (url,)).fetchone()
            if url in here or first != page:
                return url, first
            here.add(url)
        return None

    def __len__(self) -> int:
        (count,) = self._open.execute("SELECT COUNT(*) FROM pages").fetchone()
        return int(count)

    def close(self) -> None:
        """Remove the file; the spool can be read no more."""
        if self._db is not None:
            self._db.close()
            self._db = None
