"""`--site package.module:factory`: built with the base URL and the `[site]` options."""

from __future__ import annotations

import pytest

from trio_crawl.sites import MatterCatalogue, SiteBase
from trio_crawl.sites.bookshop import Bookshop
from trio_crawl.sites.loading import SiteLoadError, load_site


def test_the_default_and_the_short_names_are_the_shipped_sites() -> None:
    matter = load_site("matter", "http://x.test")
    assert isinstance(matter, MatterCatalogue) and matter.base_url == "http://x.test"
    by_name = load_site("trio_crawl.sites:MatterCatalogue", "http://x.test")
    assert isinstance(by_name, MatterCatalogue)
    shop = load_site("trio_crawl.sites.bookshop:Bookshop", "http://x.test", {"path": "/shop/"})
    assert isinstance(shop, Bookshop) and shop.list_url(2) == "http://x.test/shop/?page=2"


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("trio_crawl.sites", {}, "is not of the form package.module:factory"),
        ("no_such_module_xyz:Site", {}, "cannot import 'no_such_module_xyz'"),
        ("trio_crawl.sites:NoSuchSite", {}, "trio_crawl.sites has no 'NoSuchSite'"),
        ("trio_crawl.sites.loading:DEFAULT_SITE", {}, "is not callable"),
        ("bookshop", {"colour": "red"}, "[site] options ['colour'] do not fit"),
        ("matter", {"path": "/x/"}, "it takes no options"),
        ("builtins:str", {}, "which is not a site: it lacks base_url"),
    ],
)
def test_a_site_that_cannot_be_built_says_what_to_fix(
    spec: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(SiteLoadError) as caught:
        load_site(spec, "http://x.test", options)
    assert message in str(caught.value)


def test_a_site_without_rules_accepts_every_record() -> None:
    class Plain(SiteBase[str]):
        name = "plain"

    assert Plain("http://x.test").problems(object()) == ()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("bokshop", "did you mean bookshop?"),
     ("trio_crawl.sites:MatterCatalog", "did you mean MatterCatalogue?")],
)  # fmt: skip
def test_a_mistyped_site_gets_the_close_matches(spec: str, suggestion: str) -> None:
    with pytest.raises(SiteLoadError, match=suggestion):
        load_site(spec, "http://127.0.0.1:9")
