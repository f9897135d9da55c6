"""The README's examples are code users copy: they must run as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
