"""`trio-crawl demo --web 0 --keep-serving`: the page outlives the crawl, until Ctrl-C."""

from __future__ import annotations

import signal

from .conftest import Crawl, read_json


def test_keep_serving_leaves_the_final_state_up_until_ctrl_c() -> None:
    crawl = Crawl(
        "demo",
        "--products",
        "300",
        "--faults",
        "none",
        "--no-dashboard",
        "--db",
        ":memory:",
        "--web",
        "0",
        "--keep-serving",
    )
    try:
        assert crawl.process.stdout is not None
        for line in crawl.process.stdout:
            crawl.lines.append(line)
            if "the page stays up until Ctrl-C" in line:
                break
        assert crawl.process.poll() is None, "".join(crawl.lines)
        state = read_json(f"{crawl.base}/api/state?token={crawl.token}")
        assert state["ended"] and state["status"] == "completed" and state["can_steer"]
        assert state["summary"]["products_saved"] == 300
        crawl.process.send_signal(signal.SIGINT)
        assert crawl.process.wait(15) == 0
    finally:
        crawl.kill()
