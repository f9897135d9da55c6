"""robots.txt: what each origin lets the crawl fetch, read once per origin per session.

The rules are parsed by Protego (the parser Scrapy uses) and matched against the crawl's full
User-Agent, as Protego matches product tokens inside it. What fetching ``/robots.txt`` gave
decides what the origin allows, following RFC 9309 §2.3.1 (which is what Google does; Scrapy
instead allows everything when robots.txt cannot be fetched)::

    2xx                                  its rules (the first ROBOTS_MAX_BYTES; more is refused)
    3xx                                  followed, up to 5 hops, to any origin (RFC 9309 §2.3.1.2);
                                         more hops: as if there were none (allow all)
    4xx other than 429 (404 included)    no robots.txt: everything is allowed
    429, 5xx, unreachable (timeouts,     nothing of that origin is fetched: the item fails with
    connection errors)                   that error's own kind (rate_limited, server_error,
                                         network_error, network_timeout), so the stage's retry
                                         policy asks robots.txt again on its next attempt

A URL the rules disallow fails with `ErrorKind.robots_refused` before any request is sent; no
default policy retries that kind. An origin's ``Crawl-delay`` for our agent, capped by
``max_crawl_delay_secs``, is handed to politeness, which then spaces that host's requests by
at least that much. Only an answer is kept: a failed fetch is forgotten, so the next attempt
fetches again, and concurrent askers share one fetch (never a stampede on robots.txt).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio
from protego import Protego

from trio_crawl.engine.results import ErrorKind, StageError

ROBOTS_MAX_BYTES = 512 * 1024
"""The largest robots.txt read (RFC 9309 §2.5 asks parsers to read at least 500 KiB)."""

ROBOTS_MAX_REDIRECTS = 5
"""Redirect hops followed to find a robots.txt (RFC 9309 §2.3.1.2: at least five)."""


@attrs.frozen
class RobotsRules:
    """What one origin's robots.txt says; `parser` is None when everything is allowed."""

    url: str
    parser: Protego | None = attrs.field(eq=False)
    note: str = ""
    """Why everything is allowed, when it is (``HTTP 404``, ``too many redirects``)."""

    def allows(self, url: str, user_agent: str) -> bool:
        """Whether `user_agent` may fetch `url` (an absolute URL of this origin)."""
        return self.parser is None or self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        """The ``Crawl-delay`` (seconds) for `user_agent`, if the file names one."""
        if self.parser is None:
            return None
        return self.parser.crawl_delay(user_agent)


def rules_from_answer(url: str, status: int, body: bytes) -> RobotsRules:
    """The rules a robots.txt answer gives (after redirects); raise `StageError` when the
    origin must be treated as disallowed for now (429 or 5xx: retry later)."""
    if 200 <= status < 300:
        return RobotsRules(url, Protego.parse(body.decode("utf-8", errors="replace")))
    if status == 429 or status >= 500:
        kind = ErrorKind.rate_limited if status == 429 else ErrorKind.server_error
        raise StageError(
            kind,
            f"robots.txt {url} answered HTTP {status}: nothing on its origin is fetched until "
            "it can be read",
            status=status,
        )
    return RobotsRules(url, None, note=f"HTTP {status}")


def refusal(url: str, rules: RobotsRules) -> StageError:
    """The error for a URL that `rules` disallow."""
    return StageError(ErrorKind.robots_refused, f"{url} is disallowed by {rules.url}")


class _Pending:
    """A fetch of one origin's robots.txt that others may wait for."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: StageError | None = None


RobotsFetch = Callable[[str], Awaitable[RobotsRules]]
"""Fetches and interprets the robots.txt at a URL (`rules_from_answer` on what came back)."""


class RobotsCache:
    """One session's robots.txt rules, by origin (``scheme://host:port``).

    `rules` returns the origin's rules, fetching them with `fetch` the first time; callers
    asking while a fetch is under way wait for it and share its result. A fetch that raised
    `StageError` is not kept.
    """

    __slots__ = ("_known", "_pending")

    def __init__(self) -> None:
        self._known: dict[str, RobotsRules] = {}
        self._pending: dict[str, _Pending] = {}

    def known(self, origin: str) -> RobotsRules | None:
        """The rules already read for `origin`, without fetching."""
        return self._known.get(origin)

    async def rules(self, origin: str, fetch: RobotsFetch) -> RobotsRules:
        """`origin`'s rules; raise the `StageError` of a robots.txt that cannot be read now."""
        while True:
            known = self._known.get(origin)
            if known is not None:
                return known
            pending = self._pending.get(origin)
            if pending is None:
                break
            await pending.done.wait()
            if pending.error is not None:
                raise pending.error
            # The task fetching was cancelled before an answer: go round and fetch ourselves.
        pending = self._pending[origin] = _Pending()
        try:
            rules = await fetch(f"{origin}/robots.txt")
        except StageError as error:
            pending.error = error
            raise
        else:
            self._known[origin] = rules
            return rules
        finally:
            del self._pending[origin]
            pending.done.set()
