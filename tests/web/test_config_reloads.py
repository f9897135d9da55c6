"""Config reloads on the live page, end to end: `trio-crawl demo --web 0 --config FILE` in a
process of its own, its config file edited while it crawls, the page's event stream read over
real HTTP."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Crawl, read_json, summary_rows

SLOW_CONFIG = """\
# Slow on purpose: ten requests a second, so the crawl is still running while its file is
# edited; the file is looked at often, so each edit shows within a fraction of a second.
[crawl]
strategy = "full"
request_timeout_secs = 10

[rate_limit]
requests_per_second = {rate}

[system]
config_poll_secs = 0.1
"""

BAD_TOML = "[rate_limit\nrequests_per_second = 3\n"


def entries(crawl: Crawl, timeout: float) -> Generator[dict[str, Any], None, None]:
    """The page's entries (failures, retries, notes) as the event stream sends them, the
    fresh page's lists first; each read bounded by `timeout` seconds."""
    url = f"{crawl.base}/events?token={crawl.token}"
    with httpx.stream("GET", url, timeout=timeout) as response:
        message: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                field, _, value = line.partition(": ")
                message[field] = value
                continue
            name, data = message.get("event"), message.get("data")
            message = {}
            if name == "snapshot" and data is not None:
                for listed in json.loads(data)["lists"].values():
                    yield from listed
            elif name == "entry" and data is not None:
                yield json.loads(data)


def wait_for_note(stream: Iterator[dict[str, Any]], kind: str) -> dict[str, Any]:
    for entry in stream:
        if entry.get("kind") == kind:
            return entry
    raise AssertionError(f"the stream ended with no {kind!r} note")


@pytest.mark.slow
def test_a_rejected_and_an_accepted_edit_show_on_the_page_while_the_crawl_runs(
    tmp_path: Path,
) -> None:
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_CONFIG.format(rate=10))
    crawl = Crawl(
        "demo",
        "--products",
        "200",
        "--faults",
        "none",
        "--no-dashboard",
        "--db",
        str(tmp_path / "crawl.db"),
        "--config",
        str(config),
        "--web",
        "0",
    )
    try:
        stream = entries(crawl, timeout=10)
        # The page is up before the session has read its config: edit it once it plans.
        wait_for_note(stream, "plan")
        config.write_text(BAD_TOML)
        rejected = wait_for_note(stream, "config_rejected")
        config.write_text(SLOW_CONFIG.format(rate=50))
        accepted = wait_for_note(stream, "config")
        state = read_json(f"{crawl.base}/api/state?token={crawl.token}")
        # Both shown while the crawl still runs, in the state a fresh page starts from too.
        assert state["ended"] is False and state["status"] == "crawling", state["status"]
        notes = {entry["kind"]: entry["text"] for entry in state["lists"]["notes"]}
        assert notes["config_rejected"] == rejected["text"]
        assert notes["config"] == accepted["text"]
        stream.close()
        request = httpx.post(
            f"{crawl.base}/api/cancel", headers={"X-Trio-Crawl-Token": crawl.token}, timeout=10
        )
        assert request.status_code == 202
        output = crawl.finish(timeout=30)
    finally:
        crawl.kill()
    assert str(config) in rejected["text"]
    assert "invalid TOML" in rejected["text"] and "line 1" in rejected["text"]
    assert str(config) in accepted["text"]
    assert accepted["text"].endswith(": rate_limit"), accepted["text"]
    assert summary_rows(output)["status"] == "cancelled", output
