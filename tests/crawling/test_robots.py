"""robots.txt: refused URLs are never sent, the file is read once per origin, its answers are
judged as RFC 9309 says, and Crawl-delay paces the host (mock clock)."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from trio_crawl.crawling.http import Fetcher, FetchSettings
from trio_crawl.crawling.politeness import HostPacer, Politeness
from trio_crawl.crawling.robots import RobotsCache, RobotsRules, rules_from_answer
from trio_crawl.engine.results import ErrorKind, StageError

from .fetch_settings import settings_with
from .http_server import Reply, Request, serve_routes

PAGE = b"<html><body><h1>hello</h1></body></html>"
TEXT = (("content-type", "text/plain"),)
ROBOTS = b"""User-agent: *
Disallow: /private/
Allow: /private/open

User-agent: other-bot
Disallow: /
"""


class Counter:
    """A route answering `reply` that counts its requests (and keeps their paths)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.paths: list[str] = []

    async def __call__(self, request: Request) -> Reply:
        self.paths.append(request.target)
        return self.reply


async def error_of(fetcher: Fetcher, url: str) -> StageError:
    with pytest.raises(StageError) as info:
        await fetcher.get(url)
    return info.value


# --- what an answer means (pure) ----------------------------------------------------------------


def test_a_2xx_robots_txt_gives_its_rules_for_our_agent() -> None:
    rules = rules_from_answer("http://h/robots.txt", 200, ROBOTS)
    assert not rules.allows("http://h/private/x", "trio-crawl/0.1.0")
    assert rules.allows("http://h/private/open", "trio-crawl/0.1.0")
    assert rules.allows("http://h/public", "trio-crawl/0.1.0")
    # Protego matches a product token inside a full User-Agent.
    assert not rules.allows("http://h/public", "Mozilla/5.0 (compatible; other-bot/3)")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_a_4xx_robots_txt_allows_everything(status: int) -> None:
    rules = rules_from_answer("http://h/robots.txt", status, b"")
    assert rules.parser is None and rules.note == f"HTTP {status}"
    assert rules.allows("http://h/anything", "bot")


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorKind.rate_limited), (500, ErrorKind.server_error), (503, ErrorKind.server_error)],
)
def test_a_429_or_5xx_robots_txt_is_an_error_of_its_kind(status: int, kind: ErrorKind) -> None:
    with pytest.raises(StageError) as info:
        rules_from_answer("http://h/robots.txt", status, b"")
    assert info.value.kind is kind and info.value.status == status
    assert "robots.txt http://h/robots.txt" in info.value.message


async def test_concurrent_askers_share_one_fetch_and_a_failure_is_not_kept() -> None:
    cache = RobotsCache()
    calls: list[str] = []
    gate = trio.Event()

    async def fetch(url: str) -> RobotsRules:
        calls.append(url)
        await gate.wait()
        if len(calls) == 1:
            raise StageError(ErrorKind.network_error, "down")
        return RobotsRules(url, None)

    errors: list[ErrorKind] = []

    async def ask() -> None:
        try:
            await cache.rules("http://h", fetch)
        except StageError as error:
            errors.append(error.kind)

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert calls == ["http://h/robots.txt"]
    assert errors == [ErrorKind.network_error] * 5
    assert cache.known("http://h") is None
    # The next ask fetches again, and the answer is kept.
    assert (await cache.rules("http://h", fetch)).url == "http://h/robots.txt"
    assert (await cache.rules("http://h", fetch)).url == "http://h/robots.txt"
    assert len(calls) == 2


# --- the fetcher obeys ----------------------------------------------------------------------


async def test_disallowed_urls_are_refused_before_any_request(nursery: trio.Nursery) -> None:
    robots = Counter(Reply(headers=TEXT, body=ROBOTS))
    private = Counter(Reply(body=PAGE))
    public = Counter(Reply(body=PAGE))
    base = await nursery.start(
        serve_routes,
        {"/robots.txt": robots, "/private/x": private, "/private/open": public, "/p": public},
    )
    async with Fetcher.open(settings_with()) as fetcher:
        error = await error_of(fetcher, f"{base}/private/x")
        assert error.kind is ErrorKind.robots_refused
        assert error.message == f"{base}/private/x is disallowed by {base}/robots.txt"
        assert (await fetcher.get(f"{base}/private/open")).body == PAGE
        for _ in range(3):
            assert (await fetcher.get(f"{base}/p")).body == PAGE
        assert (await error_of(fetcher, f"{base}/private/x")).kind is ErrorKind.robots_refused
    assert private.paths == []
    assert robots.paths == ["/robots.txt"]  # once for the whole session
    assert len(public.paths) == 4


async def test_a_redirect_into_a_disallowed_path_is_refused(nursery: trio.Nursery) -> None:
    private = Counter(Reply(body=PAGE))
    base = await nursery.start(
        serve_routes,
        {
            "/robots.txt": Reply(headers=TEXT, body=ROBOTS),
            "/old": Reply(status=301, headers=(("location", "/private/x"),)),
            "/private/x": private,
        },
    )
    async with Fetcher.open(settings_with()) as fetcher:
        assert (await error_of(fetcher, f"{base}/old")).kind is ErrorKind.robots_refused
    assert private.paths == []


async def test_robots_txt_off_reads_no_robots_txt(nursery: trio.Nursery) -> None:
    robots = Counter(Reply(headers=TEXT, body=ROBOTS))
    base = await nursery.start(
        serve_routes, {"/robots.txt": robots, "/private/x": Reply(body=PAGE)}
    )
    async with Fetcher.open(settings_with(robots_txt=False)) as fetcher:
        assert (await fetcher.get(f"{base}/private/x")).body == PAGE
    assert robots.paths == []


async def test_a_missing_robots_txt_allows_all_and_is_asked_once(nursery: trio.Nursery) -> None:
    missing = Counter(Reply(status=404, body=b"<p>none</p>"))
    base = await nursery.start(
        serve_routes, {"/robots.txt": missing, "/private/x": Reply(body=PAGE)}
    )
    async with Fetcher.open(settings_with()) as fetcher:
        for _ in range(3):
            assert (await fetcher.get(f"{base}/private/x")).body == PAGE
        rules = fetcher.robots_rules(f"{base}/x")
    assert rules is not None and rules.note == "HTTP 404"
    assert missing.paths == ["/robots.txt"]


async def test_an_unreadable_robots_txt_blocks_the_origin_until_it_answers(
    nursery: trio.Nursery,
) -> None:
    answers = [Reply(status=503), Reply(status=500), Reply(headers=TEXT, body=ROBOTS)]
    asked: list[str] = []

    async def robots(request: Request) -> Reply:
        asked.append(request.target)
        return answers[len(asked) - 1]

    page = Counter(Reply(body=PAGE))
    base = await nursery.start(serve_routes, {"/robots.txt": robots, "/p": page})
    async with Fetcher.open(settings_with()) as fetcher:
        first = await error_of(fetcher, f"{base}/p")
        assert (first.kind, first.status) == (ErrorKind.server_error, 503)
        assert f"robots.txt {base}/robots.txt answered HTTP 503" in first.message
        assert (await error_of(fetcher, f"{base}/p")).status == 500
        assert (await fetcher.get(f"{base}/p")).body == PAGE
    assert len(asked) == 3
    assert len(page.paths) == 1  # nothing was fetched while robots.txt could not be read


async def test_an_unreachable_robots_txt_is_a_network_error_naming_it(
    nursery: trio.Nursery,
) -> None:
    page = Counter(Reply(body=PAGE))
    base = await nursery.start(serve_routes, {"/robots.txt": Reply(reset=True), "/p": page})
    async with Fetcher.open(settings_with()) as fetcher:
        error = await error_of(fetcher, f"{base}/p")
    assert error.kind is ErrorKind.network_error
    assert error.message.startswith(f"robots.txt {base}/robots.txt could not be read: ")
    assert page.paths == []


async def test_robots_txt_redirects_are_followed_to_another_origin(
    nursery: trio.Nursery,
) -> None:
    other = await nursery.start(serve_routes, {"/rules.txt": Reply(headers=TEXT, body=ROBOTS)})
    base = await nursery.start(
        serve_routes,
        {
            "/robots.txt": Reply(status=301, headers=(("location", f"{other}/rules.txt"),)),
            "/private/x": Reply(body=PAGE),
        },
    )
    async with Fetcher.open(settings_with()) as fetcher:
        assert (await error_of(fetcher, f"{base}/private/x")).kind is ErrorKind.robots_refused


# --- Crawl-delay (mock clock) ---------------------------------------------------------------


def delayed_robots(delay: str) -> Reply:
    return Reply(headers=TEXT, body=f"User-agent: *\nCrawl-delay: {delay}\n".encode())


async def starts_of_requests(
    nursery: trio.Nursery, robots: Reply, politeness: Politeness, settings: FetchSettings, n: int
) -> list[float]:
    starts: list[float] = []

    async def page(request: Request) -> Reply:
        starts.append(trio.current_time())
        return Reply(body=PAGE)

    base = await nursery.start(serve_routes, {"/robots.txt": robots, "/p": page})
    async with Fetcher.open(settings, politeness) as fetcher, trio.open_nursery() as workers:
        for _ in range(n):
            workers.start_soon(fetcher.get, f"{base}/p")
    return starts


async def test_crawl_delay_spaces_a_hosts_requests(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    politeness = Politeness(requests_per_second=0, per_host_concurrency=20)
    starts = await starts_of_requests(
        nursery, delayed_robots("7"), politeness, settings_with(), n=4
    )
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The first page goes at once (nothing paced the host before its delay was known).
    assert gaps == pytest.approx([7, 7, 7], abs=0.01)
    assert politeness.pacer.delay("127.0.0.1") == 7


async def test_the_configured_rate_wins_when_it_is_slower_than_crawl_delay(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    politeness = Politeness(requests_per_second=0.1, per_host_concurrency=20)  # 10 s apart
    starts = await starts_of_requests(
        nursery, delayed_robots("2"), politeness, settings_with(), n=3
    )
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([10, 10], abs=0.01)


async def test_crawl_delay_is_capped_by_max_crawl_delay_secs(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    politeness = Politeness(requests_per_second=0, per_host_concurrency=20)
    settings = settings_with(max_crawl_delay_secs=3)
    starts = await starts_of_requests(nursery, delayed_robots("3600"), politeness, settings, n=3)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([3, 3], abs=0.01)


async def test_host_pacer_spaces_starts_by_the_delay_and_leaves_other_hosts_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pacer = HostPacer()
    pacer.set_delay("slow", 5)
    starts: dict[str, list[float]] = {"slow": [], "fast": []}

    async def go(host: str) -> None:
        await pacer.wait(host)
        starts[host].append(trio.current_time())

    async with trio.open_nursery() as nursery:
        for host in ("slow", "fast") * 3:
            nursery.start_soon(go, host)
    assert starts["slow"] == pytest.approx([0, 5, 10])
    assert starts["fast"] == pytest.approx([0, 0, 0])
    pacer.set_delay("slow", 0)
    assert pacer.delay("slow") == 0


def test_no_default_retry_policy_retries_a_robots_refusal() -> None:
    from trio_crawl.config.model import DEFAULT_POLICIES
    from trio_crawl.engine.retry import RetryCalculator, RetryPolicy

    for name, policy in {**DEFAULT_POLICIES, "(any other stage)": RetryPolicy()}.items():
        assert ErrorKind.robots_refused not in policy.retry_on, name
        assert not RetryCalculator(policy).should_retry(ErrorKind.robots_refused, 1), name


def test_every_error_kind_is_drawn_in_the_taxonomy_and_the_readme() -> None:
    from pathlib import Path

    from trio_crawl.engine import results

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for kind in ErrorKind:
        assert f"├── {kind.value} " in results.__doc__ or f"└── {kind.value} " in results.__doc__
        assert f"`{kind.value}`" in readme, kind
