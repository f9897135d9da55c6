"""The dashboard's state, fed a scripted event sequence: rates, totals and ETA as shown."""

from __future__ import annotations

import trio
import trio.lowlevel
import trio.testing
from rich.console import Console

from trio_crawl.engine import EngineSettings, RetryPolicy, Stage, StageSettings, open_session
from trio_crawl.engine import events as ev
from trio_crawl.ui.dashboard import DashboardState


def rendered(state: DashboardState) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(state.render())
    return console.export_text()


def test_totals_wait_for_the_plan_and_the_rate_counts_fetched_details() -> None:
    state = DashboardState()
    state.apply(ev.SessionStarted(1, 100.0, "abc123"))
    state.apply(ev.StageStarted(2, 100.5, 1, "list_pages", 10))
    text = rendered(state)
    assert "planning…" in text
    assert "0/1" not in text and "/0" not in text
    assert state.eta() is None and "ETA" not in text

    state.apply(ev.PlanReady(3, 101.0, 1, 10, (("pages_ok", 10), ("products_saved", 120))))
    state.apply(ev.ItemProgress(4, 102.0, 1, "list_pages", 5, 0, 10, 0))
    state.apply(ev.StageStarted(5, 102.0, 1, "product_details", 60))
    state.apply(ev.ItemProgress(6, 104.0, 1, "product_details", 40, 0, 60, 0))
    # 40 detail pages fetched in 4 s, none saved yet: the fetch rate is not 0.
    assert state.details_per_sec() == 10.0
    assert state.products_per_sec() == 0.0  # saved per second, as the summary counts
    assert state.pages_per_sec() == 5 / 4
    text = rendered(state)
    assert "(10.0 fetched/s)" in text
    assert "planning…" not in text
    assert "5/10" in text  # list pages out of the planned 10
    assert "40/120" in text  # details out of the 120 products the plan expects
    # Remaining: 5 pages at 1.25/s = 4 s; 80 products at 10/s = 8 s; the slower one wins.
    assert state.eta() == 8.0
    assert "ETA    8s" in text


def test_no_eta_before_any_rate_nor_after_the_end() -> None:
    state = DashboardState()
    state.apply(ev.SessionStarted(1, 100.0, "abc123"))
    state.apply(ev.PlanReady(2, 101.0, 1, 10, ()))
    assert state.eta() is None
    assert "ETA" not in rendered(state)
    state.apply(ev.ItemProgress(3, 102.0, 1, "list_pages", 10, 0, 10, 0))
    assert state.eta() == 0.0
    state.apply(ev.SessionCompleted(4, 103.0, "completed", None))
    assert state.eta() is None


def test_the_dashboard_fits_80_columns_and_its_eta_counts_validation_and_saving() -> None:
    from trio_crawl.engine.summary import SessionSummary

    state = DashboardState()
    state.apply(ev.SessionStarted(1, 100.0, "abc123"))
    state.apply(ev.PlanReady(2, 100.0, 1, 10, (("pages_ok", 10), ("products_saved", 120))))
    state.apply(ev.ItemProgress(3, 110.0, 1, "list_pages", 10, 0, 10, 0))
    state.apply(ev.ItemProgress(4, 110.0, 1, "product_details", 120, 0, 120, 0))
    state.apply(ev.ItemProgress(5, 110.0, 1, "validation", 120, 0, 120, 0))
    state.apply(ev.ItemProgress(6, 110.0, 1, "saving", 30, 0, 120, 0))
    # Every detail fetched and validated, 30 of 120 saved at 3/s: 30 s left, not 0.
    assert state.eta() == 30.0
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(state.render())
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any("list pages/s" in line and "products/s" in line for line in lines)
    assert any(line.strip().startswith("saving") and "30/120" in line for line in lines)
    summary = SessionSummary(
        session_id="abc123",
        status="completed",
        elapsed=40.0,
        counts={"products_saved": 120},
        stages={},
        failed_items=(),
        retries=0,
        batches_planned=1,
        batches_run=1,
        batches_failed=0,
    )
    state.apply(ev.SessionCompleted(7, 140.0, "completed", summary))
    # The summary's products/s: saved over its own elapsed time.
    assert state.products_per_sec() == 120 / 40.0


async def test_items_a_stop_cut_short_are_never_shown_as_failed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A real session cancelled mid-stage: the dashboard's failed column holds what failed for
    good (the summary's failed counts), not the detail pages the stop cut short."""
    once = RetryPolicy(max_attempts=1, base_delay_ms=0, max_delay_ms=0, jitter_ms=0)
    config = EngineSettings(
        stages={name: StageSettings(once, 2) for name in ("product_details", "validation")}
    )

    async def fetch(item: int) -> int:
        if item == 0:
            raise ValueError("gone for good")
        await trio.sleep(10)
        return item

    async def check(item: int) -> int:
        await trio.lowlevel.checkpoint()
        return item

    async def save(items: list[int]) -> list[int]:
        await trio.lowlevel.checkpoint()
        return items

    stages = [
        Stage("product_details", fetch, count_failed="products_failed"),
        Stage("validation", check, drain=True, count_failed="products_failed"),
        Stage("saving", save, batched=True, drain=True, count_ok="products_saved"),
    ]
    state, stopping = DashboardState(), False
    async with open_session(config, stages=stages, items=range(8)) as s, s.events() as stream:
        async for event in stream:
            state.apply(event)
            progress = event if isinstance(event, ev.ItemProgress) else None
            if progress and progress.stage == "product_details" and progress.done and not stopping:
                stopping = True  # a detail page fetched, others in flight or waiting
                s.cancel("user")
    summary = state.summary
    assert summary is not None and summary.status == "cancelled"
    assert summary.products_failed == 1 and summary.products_cancelled > 1, summary.counts
    failed = {name: tally.failed for name, tally in state.stages.items()}
    assert failed["product_details"] + failed["validation"] == summary.products_failed, failed
    text = rendered(state)
    row = next(line.split() for line in text.splitlines() if "product_details" in line)
    assert row[-2:] == ["1", "0"], row  # failed 1, retries 0
    cancelled = sum(tally.cancelled for tally in state.stages.values())
    assert cancelled == summary.products_cancelled
    assert f"cancelled by the stop: {cancelled} (not failed)" in text
    assert "gave up on" not in text.replace("gave up on 0 ", "")  # only the real failure
