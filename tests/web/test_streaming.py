"""The page's server in the crawl's own trio loop: real crawls of the demo catalogue, real
HTTP on 127.0.0.1 (hypercorn), event streams read (or not read) by real sockets."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from trio_crawl import open_session
from trio_crawl.demo import DemoCatalogue, FaultConfig
from trio_crawl.engine.events import ItemProgress, SessionPaused
from trio_crawl.engine.summary import SessionSummary
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import SqliteStore
from trio_crawl.ui.web import LiveHub, OpenPage, WebAddress, open_page
from trio_crawl.ui.web.access import TOKEN_HEADER
from trio_crawl.ui.web.app import ACTIONS

from ..e2e.conftest import crawl_config, demo_server


@attrs.define
class Served:
    page: OpenPage
    hub: LiveHub
    base_url: str


@asynccontextmanager
async def page_for_crawls(
    update_secs: float = 0.25,
    faults: FaultConfig | None = None,
    products: int = 2000,
    stalled_secs: float = 10.0,
) -> AsyncIterator[Served]:
    faults = FaultConfig.low(seed=5) if faults is None else faults
    async with demo_server(DemoCatalogue(products=products), faults) as server:
        hub = LiveHub(update_secs=update_secs)
        async with trio.open_nursery() as nursery:
            await nursery.start(hub.run)
            address = WebAddress("127.0.0.1", 0)
            async with open_page(hub, address, hub.closing, stalled_secs=stalled_secs) as page:
                yield Served(page, hub, server.base_url)
                await hub.close()
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def crawl(served: Served, db: Path) -> AsyncIterator[Any]:
    config = crawl_config(retry={"list_pages": {"base_delay_ms": 50, "jitter_ms": 10}})
    site = MatterCatalogue(served.base_url)
    async with (
        SqliteStore.open(str(db)) as store,
        open_session(config, site=site, store=store) as s,
    ):
        served.hub.attach(s)
        yield s


async def sse_messages(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    message: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if "event" in message:
                message["data"] = json.loads(message["data"])
                yield message
            message = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            message[field] = value


def place(
    lists: dict[str, list[dict[str, Any]]], entry: dict[str, Any], limits: dict[str, int]
) -> None:
    """An entry into its list, as the page does (app.js, applyEntry)."""
    name = {"failure": "failures", "retry": "retries"}.get(entry["type"], "notes")
    lists[name].append(entry)
    del lists[name][: max(0, len(lists[name]) - limits[name])]


async def test_controls_without_the_token_are_refused_and_the_session_is_not_paused(
    tmp_path: Path,
) -> None:
    async with (
        page_for_crawls(faults=FaultConfig()) as served,
        crawl(served, tmp_path / "crawl.db") as session,
    ):
        async with httpx.AsyncClient(base_url=served.page.base) as client:
            assert not session.done
            for action in ACTIONS:
                response = await client.post(f"/api/{action}")
                assert response.status_code == 403, action
                assert "token" in response.json()["error"]
            wrong = await client.post("/api/pause", headers={TOKEN_HEADER: "not-it"})
            assert wrong.status_code == 403
            assert (await client.post("/api/pause?token=not-it")).status_code == 403
            # Loopback without a token: read-only, never refused.
            assert (await client.get("/")).status_code == 200
            state = (await client.get("/api/state")).json()
            assert state["can_steer"] is False and state["mode"] == "live"
            assert (await client.get("/api/state?token=not-it")).status_code == 403
            assert not session.done
        summary: SessionSummary = await session.wait()
    assert summary.status == "completed"
    kinds = {entry.get("kind") for entry in served.hub.log}
    assert "paused" not in kinds and "stop" not in kinds


async def test_with_the_token_pause_resume_and_cancel_reach_the_session(tmp_path: Path) -> None:
    async with page_for_crawls() as served, crawl(served, tmp_path / "crawl.db") as session:
        events = session.events()
        headers = {TOKEN_HEADER: served.page.token}
        async with httpx.AsyncClient(base_url=served.page.base, headers=headers) as client:
            assert (await client.post("/api/pause")).status_code == 202
            async for event in events:
                if isinstance(event, SessionPaused):
                    break
            state = (await client.get("/api/state")).json()
            assert state["paused"] is True and state["can_steer"] is True
            assert (await client.post("/api/resume")).status_code == 202
            assert (await client.post("/api/cancel")).status_code == 202
            summary: SessionSummary = await session.wait()
            assert (await client.post("/api/pause")).status_code == 409
    assert (summary.status, summary.reason) == ("cancelled", "graceful shutdown")
    texts = [entry["text"] for entry in served.hub.log if entry["type"] == "note"]
    assert any(text.startswith("paused") for text in texts)
    assert "resumed" in texts
    assert any(text.startswith("stop requested (graceful") for text in texts)


async def test_off_loopback_nothing_is_served_without_the_token() -> None:
    hub = LiveHub()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        async with open_page(hub, WebAddress("0.0.0.0", 0), hub.closing) as page:
            base = f"http://127.0.0.1:{page.port}"
            async with httpx.AsyncClient(base_url=base) as client:
                for path in ("/", "/api/state", "/events", "/api/streams"):
                    assert (await client.get(path)).status_code == 403, path
                assert (await client.get(f"/api/state?token={page.token}")).status_code == 200
                ok = await client.get("/", headers={TOKEN_HEADER: page.token})
                assert ok.status_code == 200 and "trio-crawl" in ok.text
            await hub.close()
        nursery.cancel_scope.cancel()


async def stalled_stream(page: OpenPage) -> trio.socket.SocketType:
    """An event stream whose reader never reads (with a small receive window, so the
    server's writes to it soon block)."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    await sock.connect(("127.0.0.1", page.port))
    request = f"GET /events?token={page.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    await sock.send(request.encode())
    return sock


async def test_a_stalled_stream_costs_the_crawl_nothing_and_a_reconnect_resumes_it(
    tmp_path: Path,
) -> None:
    durations: dict[bool, list[float]] = {False: [], True: []}
    lost: list[int] = []
    socks: list[trio.socket.SocketType] = []
    # Many frames a second, so that a stream that reads nothing falls behind within the crawl.
    # No faults: nothing but the stream differs between the crawls, run in turn.
    served_page = page_for_crawls(
        update_secs=0.005, faults=FaultConfig(), products=1000, stalled_secs=3
    )
    hung = False

    async def watchdog() -> None:
        # hypercorn's writes are shielded: a cancel cannot end a server stuck on a stalled
        # peer, but closing the peer's socket does. The test then fails instead of hanging.
        nonlocal hung
        await trio.sleep(120)
        hung = True
        for sock in socks:
            sock.close()

    try:
        async with trio.open_nursery() as guard:
            guard.start_soon(watchdog)
            async with served_page as served:
                for number, stalled in enumerate((False, True, False, True)):
                    if stalled:
                        socks.append(await stalled_stream(served.page))
                    started = trio.current_time()
                    async with crawl(served, tmp_path / f"crawl-{number}.db") as session:
                        early = served.hub.snapshot()
                        summary = await session.wait()
                    durations[stalled].append(trio.current_time() - started)
                    assert summary.status == "completed"
                    await served.hub.ended.wait()
                    if stalled:
                        # Counted while it is stuck: every frame since its last but the newest.
                        lost.append(served.hub.stats()["streams"][-1]["frames_lost"])
                        assert lost[-1] > 0
                state, lists, fresh = await reconnect(served, early)
                leaving = trio.current_time()
            # The last stalled stream is still open: the server stops anyway, once the
            # connection has given up on it.
            stopped_in = trio.current_time() - leaving
            guard.cancel_scope.cancel()
    finally:
        for sock in socks:
            sock.close()
    assert not hung, "the server could not stop while a stalled stream was open"
    assert stopped_in < 3 + 1 + 2
    assert lists == fresh["lists"]
    for key, value in state.items():
        assert fresh[key] == value, key
    assert state["ended"] and state["summary"]["products_saved"] == 1000
    # Within noise: the crawl never waits for a browser.
    fastest = {stalled: min(times) for stalled, times in durations.items()}
    assert fastest[True] < fastest[False] * 1.5 + 0.5, durations
    print(
        f"crawl times {durations}; the stalled streams lost {lost} frames;"
        f" the server stopped in {stopped_in:.1f}s"
    )


async def reconnect(
    served: Served, early: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """A page that saw `early` reconnects with its last id: it is sent the entries since,
    then the state it missed. (The state, its lists after the entries, a fresh snapshot.)"""
    limits = early["limits"]
    lists = early["lists"]
    headers = {"Last-Event-ID": str(early["seq"])}
    url = f"{served.page.base}/events?token={served.page.token}"
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", url, headers=headers) as response:
            async for message in sse_messages(response):
                assert message["event"] != "snapshot"
                if message["event"] == "entry":
                    assert message["data"]["seq"] > early["seq"]
                    place(lists, message["data"], limits)
                else:
                    state = message["data"]
                    break
        fresh = (await client.get(url.replace("/events", "/api/state"))).json()
    return state, lists, fresh


async def test_stop_now_ends_the_crawl_cancelled_and_keeps_what_it_saved(tmp_path: Path) -> None:
    """The hard stop: `session.cancel(...)` from the page. The crawl ends `cancelled` with the
    page's reason long before its 2,000 products, every product it counts as saved is a row,
    and the page's state says so (from the session's events, not the button)."""
    db = tmp_path / "crawl.db"
    async with page_for_crawls(faults=FaultConfig()) as served, crawl(served, db) as session:
        events = session.events()
        headers = {TOKEN_HEADER: served.page.token}
        async with httpx.AsyncClient(base_url=served.page.base, headers=headers) as client:
            with trio.fail_after(20):
                # Some products saved, most not yet: the stop lands mid-crawl.
                async for event in events:
                    if (
                        isinstance(event, ItemProgress)
                        and event.stage == "saving"
                        and event.done >= 20
                    ):
                        break
                assert (await client.post("/api/stop")).status_code == 202
                summary: SessionSummary = await session.wait()
                await served.hub.ended.wait()
            state = (await client.get("/api/state")).json()
    assert (summary.status, summary.reason) == ("cancelled", "stopped from the web page")
    assert 0 < summary.products_saved < 2000
    with sqlite3.connect(db) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM matter").fetchone()[0])
    assert rows == summary.products_saved
    assert state["ended"] is True and state["status"] == "cancelled"
    assert state["stop"]["graceful"] is False
    assert state["stop"]["reason"] == "stopped from the web page"
    assert state["summary"]["status"] == "cancelled"
    assert state["summary"]["products_saved"] == rows
    texts = [entry["text"] for entry in state["lists"]["notes"]]
    assert any(text.startswith("stop requested (hard, cancelled)") for text in texts), texts
