"""The invocation a run records (``--site`` and ``--config``) names each built-in site, and
working it out imports no site the crawl does not use."""

from __future__ import annotations

import subprocess
import sys

from trio_crawl import CrawlConfig
from trio_crawl.api import invocation
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.bookshop import Bookshop


class MyCatalogue(MatterCatalogue):
    pass


def test_each_built_in_site_is_recorded_by_its_site_name_and_others_by_their_class() -> None:
    config = CrawlConfig()
    base = "http://127.0.0.1:8000"
    assert invocation(MatterCatalogue(base), config)["invocation"]["site"] == "matter"
    assert invocation(Bookshop(base), config)["invocation"]["site"] == "bookshop"
    mine = invocation(MyCatalogue(base), config)["invocation"]["site"]
    assert mine == f"{__name__}:MyCatalogue"


def test_recording_a_matter_crawl_imports_no_other_site() -> None:
    code = (
        "import sys\n"
        "from trio_crawl import CrawlConfig\n"
        "from trio_crawl.api import invocation\n"
        "from trio_crawl.sites.matter import MatterCatalogue\n"
        "print(invocation(MatterCatalogue('http://127.0.0.1:8000'), CrawlConfig()))\n"
        "print('trio_crawl.sites.bookshop' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    recorded, imported = done.stdout.splitlines()
    assert "'site': 'matter'" in recorded
    assert imported == "False"
