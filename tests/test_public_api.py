"""The package's public surface is exactly the API docs/architecture.md §7 promises."""

from __future__ import annotations

import trio_crawl
import trio_crawl.engine

PROMISED = {"CrawlConfig", "ConfigError", "crawl", "open_session", "oneshot", "RetryPolicy"}
PROMISED |= {"RetryCalculator", "StageResult", "Success", "PartialSuccess", "FatalError"}
PROMISED |= {"ErrorKind", "SessionSummary"}


def test_dir_of_the_package_lists_its_public_names_and_nothing_it_uses_itself() -> None:
    assert dir(trio_crawl) == sorted([*trio_crawl.__all__, "__version__"])
    assert set(trio_crawl.__all__) >= PROMISED
    assert not {"Any", "TYPE_CHECKING", "importlib"} & set(dir(trio_crawl))


def test_every_public_name_resolves() -> None:
    for name in trio_crawl.__all__:
        assert getattr(trio_crawl, name) is not None, name


def test_the_engines_actor_plumbing_is_not_public() -> None:
    assert not {"Child", "spawn"} & set(dir(trio_crawl.engine))
    assert not {"Child", "spawn"} & set(dir(trio_crawl))
