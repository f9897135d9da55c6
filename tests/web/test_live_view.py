"""The page's fold of session events (pure): what each event puts on the page."""

from __future__ import annotations

from trio_crawl.engine import events as ev
from trio_crawl.ui.web.live import FAILURES_KEPT, LiveView


def _fold(*events: ev.Event) -> LiveView:
    view = LiveView()
    for event in events:
        view.apply(event)
    return view


def test_reloads_rejections_stops_retries_and_failures_become_entries_in_order() -> None:
    view = _fold(
        ev.SessionStarted(1, 100.0, "s1"),
        ev.PlanReady(2, 100.1, 1, 2, (("products_saved", 24),)),
        ev.BatchStarted(3, 100.2, 1, 2),
        ev.StageStarted(4, 100.2, 1, "list_pages", 2),
        ev.StageRetrying(5, 100.3, 1, "list_pages", 2, 1.5, "server_error", "HTTP 503"),
        ev.ConfigReloaded(6, 100.4, "crawl.toml", ("retry",)),
        ev.ConfigRejected(7, 100.5, "crawl.toml", "retry.saving.max_attempts: -1\nmust be >= 1"),
        ev.ItemFailed(
            8, 100.6, 1, "list_pages", "http://x/p/2", "http://x/p/2", "client_error", 1, "HTTP 404"
        ),
        ev.SessionPaused(9, 100.7),
        ev.StopRequested(10, 100.8, "cancelled", "user", False, 30.0),
    )
    lists = view.snapshot()["lists"]
    assert [(r["stage"], r["attempt"], r["delay"], r["kind"]) for r in lists["retries"]] == [
        ("list_pages", 2, 1.5, "server_error")
    ]
    assert lists["failures"] == [
        {
            "type": "failure",
            "item": "http://x/p/2",
            "url": "http://x/p/2",
            "stage": "list_pages",
            "kind": "client_error",
            "attempts": 1,
            "message": "HTTP 404",
            "batch": 1,
            "seq": 8,
            "ts": 100.6,
        }
    ]
    kinds = [note["kind"] for note in lists["notes"]]
    assert kinds == ["session", "plan", "config", "config_rejected", "paused", "stop"]
    texts = {note["kind"]: note["text"] for note in lists["notes"]}
    assert texts["config"] == "config reloaded from crawl.toml: retry"
    assert "must be >= 1" in texts["config_rejected"]
    assert texts["stop"] == "stop requested (hard, cancelled): user"
    state = view.state(now=101.0)
    assert state["paused"] and state["failures"] == 1 and state["retries"] == 0
    assert state["stop"] == {
        "status": "cancelled",
        "reason": "user",
        "graceful": False,
        "grace_left": 30.0,
    }
    assert state["batches"]["active"] == [{"id": 1, "items": 2, "stage": "list_pages"}]
    assert state["pages"] == {"done": 0, "failed": 0, "planned": 2}


def test_a_page_keeps_the_newest_failures_and_counts_all_of_them() -> None:
    failures = [
        ev.ItemFailed(
            n, float(n), 1, "product_details", f"u{n}", f"u{n}", "server_error", 5, "HTTP 500"
        )
        for n in range(1, FAILURES_KEPT + 51)
    ]
    view = _fold(*failures)
    kept = view.snapshot()["lists"]["failures"]
    assert len(kept) == FAILURES_KEPT and kept[-1]["item"] == f"u{FAILURES_KEPT + 50}"
    assert view.state()["failures"] == FAILURES_KEPT + 50
