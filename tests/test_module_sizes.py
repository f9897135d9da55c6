"""A module holds one idea: past 450 lines it has usually grown a second one. The few that are
longer on purpose are named, with the reason, in the README's architecture section."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "trio_crawl"
MOST_LINES = 450

def _named_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("- **Module sizes**")
    bullet = text[start : text.index("\n- ", start + 1)]
    return set(re.findall(r"`([\w/]+\.py)` \(", bullet))


def test_no_module_is_over_450_lines_unless_the_readme_names_it() -> None:
    named = _named_in_readme()
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MOST_LINES and name not in named:
            too_long.append(f"{name}: {lines} lines")
    assert too_long == []


def test_the_modules_the_readme_names_exist() -> None:
    named = _named_in_readme()
    assert named, "the README's module sizes bullet names no module"
    assert all((PACKAGE / name).is_file() for name in named), named
