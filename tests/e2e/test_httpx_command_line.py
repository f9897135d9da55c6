"""httpx stays httpx in a process that imported trio_crawl first: its command line
(``httpx.main``, ``httpx._main``) is loaded when used instead of when httpx is imported, and
then is the very one httpx ships, doing what it does. Each case runs in a fresh interpreter,
once after importing trio_crawl and once without it, and the two must agree."""

from __future__ import annotations

import sys

import trio

from trio_crawl.demo import DemoCatalogue

from .conftest import demo_server

WITH = "import trio_crawl.api, trio_crawl.stores, trio_crawl.sites\n"

NAMES = """
import sys
import httpx
loaded_early = sorted({m.split(".")[0] for m in sys.modules} & {"click", "rich", "pygments"})
main = httpx.main
import httpx._main
print(loaded_early)
print(type(main).__module__, type(main).__qualname__, main.__module__, main is httpx._main.main)
print(httpx._main is sys.modules["httpx._main"], httpx.__spec__.loader is httpx.__loader__)
print(type(httpx.__loader__).__name__)
print(sorted(name for name in vars(httpx) if name != "__getattr__"))
print(sorted(vars(httpx._main)))
"""

RUN = """
import sys
import httpx
sys.argv = ["httpx", *sys.argv[1:]]
httpx.main()
"""


async def python(code: str, *args: str) -> tuple[int, str]:
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-c", code, *args],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    return done.returncode, done.stdout.decode() + done.stderr.decode()


async def test_httpx_loads_its_command_line_on_first_use_and_it_is_httpx_s_own() -> None:
    code, alone = await python(NAMES)
    assert code == 0, alone
    code, after = await python(WITH + NAMES)
    assert code == 0, after
    early_alone, *rest_alone = alone.splitlines()
    early_after, *rest_after = after.splitlines()
    assert early_alone == "['click', 'pygments', 'rich']"
    assert early_after == "[]"
    assert rest_after == rest_alone
    assert rest_after[0] == "click.core Command httpx True"
    assert rest_after[1] == "True True"


async def test_httpx_s_command_line_answers_the_same_after_trio_crawl() -> None:
    code, alone = await python(RUN, "--help")
    assert code == 0, alone
    assert "A next generation HTTP client." in alone
    assert await python(WITH + RUN, "--help") == (0, alone)


async def test_httpx_s_command_line_fetches_the_same_page_after_trio_crawl() -> None:
    async with demo_server(DemoCatalogue(products=3)) as server:
        url = f"{server.base_url}/robots.txt"
        alone = await python(RUN, url, "--no-verify")
        after = await python(WITH + RUN, url, "--no-verify")
    assert alone[0] == 0, alone[1]
    assert "HTTP/1.1 200" in alone[1] and "Disallow" in alone[1]

    def without_date(output: str) -> list[str]:
        return [line for line in output.splitlines() if not line.lower().startswith("date:")]

    assert after[0] == 0
    assert without_date(after[1]) == without_date(alone[1])
