"""Live reload says what it did, on stderr and in the log file, with no dashboard: a rejected
change as a warning (bad TOML, a value out of range, the file deleted), an applied one at info,
and a note for keys only a new run reads. A real `trio-crawl crawl` against the demo catalogue
served in-process, its config file edited while it runs."""

from __future__ import annotations

from pathlib import Path

import trio

from trio_crawl.demo import DemoCatalogue

from ..test_cli_stops import GUARD_SECS, start
from .conftest import demo_server
from .test_interrupted_runs import saved_now

CONFIG = """\
[system]
config_poll_secs = 0.05
[crawl]
strategy = "full"
page_range_limit = 1000
batch_size = 1
[rate_limit]
requests_per_second = {rate}
"""


async def test_every_reload_is_reported_on_stderr_and_in_the_log_file(tmp_path: Path) -> None:
    catalogue = DemoCatalogue(products=600, seed=5)
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG.format(rate=100))
    db, log = tmp_path / "crawl.db", tmp_path / "crawl.log"
    async with demo_server(catalogue) as server:
        run = await start("crawl", "--base-url", server.base_url, "--db", str(db), "--config",
                          str(config), "--no-dashboard", "--log-file", str(log),
                          cwd=tmp_path)  # fmt: skip
        try:
            with trio.fail_after(GUARD_SECS):
                while await trio.to_thread.run_sync(saved_now, db) < 12:  # noqa: ASYNC110
                    await trio.sleep(0.01)  # (another process's database: nothing to await)
                config.write_text("[crawl\n")  # not TOML
                await run.wait_for(rb"rejected.*\n")
                config.write_text(CONFIG.format(rate=100) + "[concurrency]\nsaving = 0\n")
                await run.wait_for(rb"rejected(.|\n)*rejected.*\n")
                config.unlink()
                await run.wait_for(rb"(rejected(.|\n)*){3}\n")
                changed = CONFIG.format(rate=150).replace("batch_size = 1", "batch_size = 2")
                config.write_text(changed)
                await run.wait_for(rb"next run\n")
                run.ctrl_c()
                status, out, err = await run.end()
        finally:
            run.process.kill()
    assert status == 130, (out, err)
    lines = err.splitlines()
    rejected = [line for line in lines if "rejected" in line]
    assert len(rejected) == 3, lines
    assert all(line.startswith(f"config change in {config} rejected") for line in rejected)
    assert "concurrency.saving" in rejected[1]
    assert "missing" in rejected[2]
    assert (
        f"config reloaded from {config}: crawl.batch_size, rate_limit.requests_per_second" in lines
    ), lines
    assert (
        "config: crawl.batch_size is read when a run starts: the change applies from the next run"
        in lines
    ), lines
    logged = log.read_text()
    assert logged.count(" WARNING ") >= 4 and " INFO " in logged
    assert "config reloaded from" in logged and logged.count("rejected, the crawl keeps") == 3
