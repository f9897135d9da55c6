"""The README's examples are code users copy: they must run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _example(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no python block under {heading!r}"
    return match.group(1)


def test_readme_session_example_runs_and_completes() -> None:
    code = _example("## Example: a session with two fake stages")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "completed 7"
    assert lines[0] == "SessionStarted 1"
    assert sum(line.startswith("saving") for line in lines) == 3


@pytest.mark.slow
def test_readme_library_example_crawls_the_demo_catalogue(tmp_path: Path) -> None:
    code = _example("## Using it as a library")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "completed 20 240"
    assert lines[-1] == "completed 240 0"
    assert (tmp_path / "matter.db").exists()


def test_readme_config_reference_names_every_key() -> None:
    from trio_crawl import CrawlConfig

    text = README.read_text()
    for section, values in CrawlConfig().to_dict().items():
        if section == "retry":
            names = {f"retry.<stage>.{field}" for policy in values.values() for field in policy}
        else:
            names = {f"{section}.{key}" for key in values}
        for name in names:
            assert f"`{name}`" in text, name


def test_readme_stands_alone_without_documents_outside_the_repository() -> None:
    text = README.read_text()
    for outside in ("DESIGN", "§", "the issue", "issue's", "STYLE"):
        assert outside not in text, f"README.md mentions {outside!r}"


@pytest.mark.slow
def test_readme_own_site_example_runs_then_the_same_site_from_the_command_line(
    tmp_path: Path,
) -> None:
    import functools
    import os

    import trio

    from trio_crawl.demo import DemoBookshop, DemoCatalogue, serve_demo

    code = _example("## Crawl your own catalogue")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "completed 5 47"
    # The same file as a module of the user's own, named with --site, run in its directory.
    (tmp_path / "shelf.py").write_text(code)
    text = README.read_text()
    commands = re.search(r"```sh\n(trio-crawl crawl --site shelf:Shelf.*?)```", text, re.S)
    assert commands is not None
    lines = commands.group(1).strip().splitlines()
    env = {**os.environ, "PYTHONPATH": str(README.parent)}
    # The example's own server had another port, so its books have other URLs: other items,
    # which the command line's crawl would keep beside its own, marked delisted.
    for made in tmp_path.glob("shelf.db*"):
        made.unlink()

    async def run_commands() -> list[subprocess.CompletedProcess[bytes]]:
        async with trio.open_nursery() as nursery:
            demo = functools.partial(serve_demo, bookshop=DemoBookshop(books=47))
            server = await nursery.start(demo, DemoCatalogue(products=12))
            done = []
            for line in lines:
                words = line.replace("http://127.0.0.1:8000", server.base_url).split()
                command = [sys.executable, "-m", "trio_crawl.cli", *words[1:]]
                done.append(await trio.run_process(command, capture_stdout=True,
                            capture_stderr=True, cwd=tmp_path, env=env, check=False))  # fmt: skip
            nursery.cancel_scope.cancel()
        return done

    crawled, status, exported = trio.run(run_commands)
    assert crawled.returncode == 0, crawled.stderr.decode()
    assert "nothing left" in status.stdout.decode()
    rows = exported.stdout.decode().splitlines()
    assert rows[0].startswith("url,page_id,index_in_page,id,card,title,isbn,price,")
    assert len(rows) == 1 + 47


def test_readme_benchmarks_show_the_latest_runs_figures_and_not_a_history() -> None:
    latest = (README.parent / "benchmarks" / "results" / "latest.md").read_text()
    main_table = latest[latest.index("| contender |") : latest.index("`ratios ")]
    peers = ("trio_crawl", "raw_httpx", "raw_trio", "aiohttp", "scrapy", "crawlee")
    rows = [
        line
        for line in main_table.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip() in peers
    ]
    assert len(rows) == len(peers)
    text = README.read_text()
    section = text[text.index("## Benchmarks") :]
    for row in rows:
        assert row in section, f"README's benchmarks lack latest.md's row {row!r}"
    assert "benchmarks/run.py --all --variants" in section
    assert "→" not in section and "in the run before" not in section
