"""MatterCatalogue: URLs and list pages (docs/architecture.md §6)."""

from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites import ListEntry, ListPage, MatterCatalogue, ProductDetail, Site
from trio_crawl.sites.response import Response

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://csa-iot.org"
QUERY = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049"
    "&p_certificate=&p_family=&p_firmware_ver="
)
site = MatterCatalogue(BASE)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def cards(page: ListPage) -> list[ListEntry]:
    """The page's entries as the Matter cards they are (a ListPage promises only URLs)."""
    assert all(isinstance(entry, ListEntry) for entry in page.entries)
    return [entry for entry in page.entries if isinstance(entry, ListEntry)]


ONE_CARD = (
    '<div class="post-feed"><div class="inner"><article class="product type-product">'
    '<a href="/csa_product/x/"><h3 class="entry-title">Plug</h3></a></article></div></div>'
)


def list_page(feed: str = ONE_CARD, nav: str = "") -> str:
    """A minimal list page: noise, then the feed and the pagination given."""
    return (
        "<!DOCTYPE html><html><head><title>Certified Products</title></head><body>"
        '<header><nav><a href="/">Home</a></nav></header><main>'
        f"{feed}{nav}</main><footer>&copy; CSA</footer></body></html>"
    )


def card(href: str = "/csa_product/x/", company: str = "Acme", model: str = "Plug") -> str:
    return (
        '<article class="product type-product">'
        f'<a href="{href}"><p class="entry-company">{company}</p>'
        f'<h3 class="entry-title">{model}</h3>'
        '<p class="entry-certificate-id">Certificate ID: CSA1</p></a></article>'
    )


# URLs


def test_first_list_page_url_has_no_page_segment() -> None:
    assert site.list_url(1) == f"{BASE}/csa-iot_products/?{QUERY}"


def test_later_list_page_urls_have_a_page_segment() -> None:
    assert site.list_url(2) == f"{BASE}/csa-iot_products/page/2/?{QUERY}"
    assert site.list_url(482) == f"{BASE}/csa-iot_products/page/482/?{QUERY}"


def test_detail_url_is_built_from_the_slug() -> None:
    assert site.detail_url("tuya-smart-plug") == f"{BASE}/csa_product/tuya-smart-plug/"


def test_trailing_slash_of_base_url_is_stripped() -> None:
    other = MatterCatalogue("http://127.0.0.1:8080/")
    assert other.base_url == "http://127.0.0.1:8080"
    assert other.list_url(1) == f"http://127.0.0.1:8080/csa-iot_products/?{QUERY}"
    assert other.detail_url("x") == "http://127.0.0.1:8080/csa_product/x/"


def test_list_pages_are_numbered_from_one() -> None:
    with pytest.raises(ValueError):
        site.list_url(0)


def test_matter_catalogue_is_a_site_of_twelve_per_page() -> None:
    as_site: Site[ProductDetail] = site
    assert as_site.per_page == 12
    assert repr(site) == "MatterCatalogue(base_url='https://csa-iot.org')"


# Full and partial pages


def test_full_list_page_yields_twelve_entries_and_its_pagination() -> None:
    page = site.parse_list(fixture("list_page_1.html"), site.list_url(1))
    assert (page.current, page.highest) == (1, 482)
    assert len(page.entries) == 12
    assert page.entries[0] == ListEntry(
        url=f"{BASE}/csa_product/nanoleaf-essentials-a19-bulb-4/",
        manufacturer="Nanoleaf",
        model="Nanoleaf Essentials A19 Bulb",
        certificate_id="CSA24101MAT42110-24",
    )
    assert len({entry.url for entry in page.entries}) == 12


def test_list_entry_text_has_entities_decoded() -> None:
    page = site.parse_list(fixture("list_page_1.html"), site.list_url(1))
    models = {entry.model for entry in cards(page)}
    assert "Aqara Smart Hub M3 \u2013 EU" in models
    assert "Smart Wi-Fi LED Bulb & Dimmer" in models
    assert "Decora Smart\u2122 Wi-Fi 2nd Gen Switch" in models


def test_last_page_is_partial_and_current_is_the_highest() -> None:
    page = site.parse_list(fixture("list_page_last.html"), site.list_url(482))
    assert (page.current, page.highest) == (482, 482)
    assert [entry.certificate_id for entry in cards(page)] == [
        "CSA22062MAT40062-24",
        "CSA22061MAT40061-24",
        "CSA22060MAT40060-24",
        "CSA22059MAT40059-24",
    ]
    assert cards(page)[3].manufacturer == "Hangzhou Tuya Information Technology Co., Ltd"


def test_relative_product_links_are_resolved_against_the_page_url() -> None:
    page = site.parse_list(fixture("list_page_last.html"), site.list_url(482))
    assert page.entries[1].url == f"{BASE}/csa_product/eve-motion/"
    local = site.parse_list(
        fixture("list_page_last.html"), "http://127.0.0.1:8080/csa-iot_products/page/482/?x=1"
    )
    assert local.entries[1].url == "http://127.0.0.1:8080/csa_product/eve-motion/"
    # Absolute links stay as the page gives them.
    assert local.entries[0].url == f"{BASE}/csa_product/nanoleaf-essentials-bulb/"


def test_page_with_only_the_current_number_has_that_number_as_highest() -> None:
    page = site.parse_list(fixture("list_page_single.html"), site.list_url(1))
    assert (page.current, page.highest) == (1, 1)
    assert len(page.entries) == 7


def test_a_feed_without_cards_is_not_the_end_of_the_catalogue() -> None:
    # Past the end the site shows another page with cards; an empty feed means the layout
    # changed (or the page is damaged), so it must be a parse error, never "0 products".
    url = site.list_url(1)
    with pytest.raises(StageError) as caught:
        site.parse_list(fixture("list_page_empty.html"), url)
    assert caught.value.kind is ErrorKind.parse_error
    assert f"layout not recognised: {url}" in caught.value.message


def test_str_and_bytes_input_parse_the_same() -> None:
    raw = fixture("list_page_1.html")
    assert site.parse_list(raw, site.list_url(1)) == site.parse_list(
        raw.decode("utf-8"), site.list_url(1)
    )


def test_bytes_are_decoded_as_utf8_whatever_the_page_claims() -> None:
    model = "Caf\u00e9 \u20ac"
    markup = list_page(feed=f'<div class="post-feed">{card(model=model)}</div>')
    markup = markup.replace("<head>", '<head><meta charset="iso-8859-1">')
    page = site.parse_list(markup.encode("utf-8"), site.list_url(1))
    assert cards(page)[0].model == "Caf\u00e9 \u20ac"


def test_xml_declaration_in_str_input_is_tolerated() -> None:
    markup = '<?xml version="1.0" encoding="utf-8"?>' + list_page(
        feed=f'<div class="post-feed">{card()}</div>'
    )
    assert len(site.parse_list(markup, site.list_url(1)).entries) == 1


# Pagination details


def test_pagination_ignores_next_previous_and_dots() -> None:
    nav = (
        '<a class="prev page-numbers" href="/p/4/">&laquo; Previous 4</a>'
        '<a class="page-numbers" href="/p/1/">1</a>'
        '<span class="page-numbers dots">&hellip;</span>'
        '<span aria-current="page" class="page-numbers current">5</span>'
        '<a class="page-numbers" href="/p/6/">6</a>'
        '<a class="next page-numbers" href="/p/6/">Next 99 &raquo;</a>'
    )
    page = site.parse_list(list_page(nav=nav), site.list_url(5))
    assert (page.current, page.highest) == (5, 6)


def test_pagination_numbers_may_have_thousands_separators() -> None:
    nav = (
        '<span class="page-numbers current">1,233</span>'
        '<a class="page-numbers" href="/p/1234/">1,234</a>'
        '<a class="page-numbers" href="/p/12345/">\n 12,345 \n</a>'
    )
    page = site.parse_list(list_page(nav=nav), "https://x/")
    assert (page.current, page.highest) == (1233, 12345)


def test_screen_reader_page_prefix_is_understood() -> None:
    nav = (
        '<a class="page-numbers" href="/p/2/"><span class="screen-reader-text">Page </span>2</a>'
        '<span class="page-numbers current"><span class="screen-reader-text">Page </span>3</span>'
    )
    page = site.parse_list(list_page(nav=nav), "https://x/")
    assert (page.current, page.highest) == (3, 3)


def test_past_the_end_page_reports_the_page_it_really_shows() -> None:
    # Asking for page 500 of 482 shows page 482: the caller compares `current` with 500.
    page = site.parse_list(fixture("list_page_last.html"), site.list_url(500))
    assert page.current == 482


def test_pagination_without_a_feed_is_a_parse_error() -> None:
    nav = '<span class="page-numbers current">3</span>'
    with pytest.raises(StageError) as info:
        site.parse_list(list_page(feed="", nav=nav), "https://x/")
    assert info.value.kind is ErrorKind.parse_error
    assert "layout not recognised: https://x/ (pagination but no product cards)" in str(
        info.value.message
    )


# Broken pages


def test_page_without_feed_or_pagination_is_a_parse_error() -> None:
    with pytest.raises(StageError) as info:
        site.parse_list(list_page(feed="<p>Service temporarily unavailable</p>"), "https://x/")
    assert info.value.kind is ErrorKind.parse_error
    assert "layout not recognised: https://x/" in info.value.message


def test_truncated_page_is_a_parse_error_for_list_parsing() -> None:
    with pytest.raises(StageError) as info:
        site.parse_list(fixture("detail_truncated.html"), site.list_url(1))
    assert info.value.kind is ErrorKind.parse_error


@pytest.mark.parametrize("markup", [b"", b"   \n ", ""])
def test_empty_document_is_a_parse_error(markup: bytes | str) -> None:
    with pytest.raises(StageError) as info:
        site.parse_list(markup, site.list_url(1))
    assert info.value.kind is ErrorKind.parse_error


@pytest.mark.parametrize(
    "broken_card",
    [
        '<article class="product type-product"><h3 class="entry-title">No link</h3></article>',
        '<article class="product type-product"><a href="  ">Blank link</a></article>',
        '<article class="product type-product"><a>Anchor without href</a></article>',
    ],
)
def test_product_card_without_a_link_is_a_parse_error(broken_card: str) -> None:
    feed = f'<div class="post-feed">{card()}{broken_card}</div>'
    with pytest.raises(StageError) as info:
        site.parse_list(list_page(feed=feed), "https://x/")
    assert info.value.kind is ErrorKind.parse_error
    assert "#2" in info.value.message


def test_articles_outside_the_feed_or_of_other_types_are_ignored() -> None:
    feed = (
        '<div class="post-feed">'
        + card(href="/csa_product/a/")
        + '<article class="post type-post"><a href="/news/1/">News</a></article>'
        + "</div>"
        + '<aside><article class="product type-product">'
        + '<a href="/elsewhere/">x</a></article></aside>'
    )
    page = site.parse_list(list_page(feed=feed), "https://csa-iot.org/list/")
    assert [entry.url for entry in page.entries] == ["https://csa-iot.org/csa_product/a/"]


def test_card_with_missing_texts_is_left_for_validation() -> None:
    feed = (
        '<div class="post-feed"><article class="product type-product">'
        '<a href="/csa_product/p/">?</a></article></div>'
    )
    page = site.parse_list(list_page(feed=feed), "https://x.org/")
    assert page.entries == (
        ListEntry(url="https://x.org/csa_product/p/", manufacturer="", model="", certificate_id=""),
    )


# Text normalisation, for any text a card may carry

card_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"),
    max_size=40,
)


@given(company=card_text, model=card_text, certificate=card_text)
def test_card_texts_come_back_unescaped_and_whitespace_collapsed(
    company: str, model: str, certificate: str
) -> None:
    feed = (
        '<div class="post-feed"><article class="product type-product"><a href="/csa_product/p/">'
        f'<p class="entry-company">\n  {html.escape(company)}  </p>'
        f'<h3 class="entry-title">{html.escape(model)}</h3>'
        f'<p class="entry-certificate-id">Certificate ID: {html.escape(certificate)}</p>'
        "</a></article></div>"
    )
    (entry,) = cards(site.parse_list(list_page(feed=feed), "https://x.org/"))
    assert entry.manufacturer == " ".join(company.split())
    assert entry.model == " ".join(model.split())
    assert entry.certificate_id == " ".join(certificate.split())


# What the parser must keep whatever HTML library reads the page


def test_a_card_matched_by_both_feed_selectors_counts_once() -> None:
    # A block inside a post-feed: every card matches both halves of the card selector. Each
    # must be read once, in page order, so a broken card is still reported by its position.
    broken = '<article class="product type-product"><a href="/news/">x</a></article>'
    feed = (
        '<div class="post-feed"><div class="wp-block-crown-blocks-product-index">'
        f"{card(href='/csa_product/a/')}{card(href='/csa_product/b/')}{broken}</div></div>"
    )
    with pytest.raises(StageError) as info:
        site.parse_list(list_page(feed=feed), "https://x/")
    assert "product card #3 has" in info.value.message
    page = site.parse_list(list_page(feed=feed.replace(broken, "")), "https://x/")
    assert [entry.url for entry in page.entries] == [
        "https://x/csa_product/a/",
        "https://x/csa_product/b/",
    ]


def test_identical_cards_are_distinct_cards() -> None:
    broken = '<article class="product type-product"></article>'
    feed = f'<div class="post-feed">{card()}{card()}{broken}</div>'
    with pytest.raises(StageError) as info:
        site.parse_list(list_page(feed=feed), "https://x/")
    assert "product card #3 has" in info.value.message


def test_class_names_match_case_sensitively_even_without_a_doctype() -> None:
    # Without a DOCTYPE browsers (and Lexbor's `.class`) ignore the case of class names.
    markup = list_page(feed=f'<div class="Post-Feed">{card()}</div>').replace("<!DOCTYPE html>", "")
    with pytest.raises(StageError) as info:
        site.parse_list(markup, "https://x/")
    assert (
        info.value.message
        == "layout not recognised: https://x/ (no product feed and no pagination)"
    )


@pytest.mark.parametrize("markup", ["<html><body></body></html>", "<html lang='en'></html>"])
def test_a_page_that_is_only_its_skeleton_is_a_page_of_the_wrong_shape(markup: str) -> None:
    with pytest.raises(StageError) as info:
        site.parse_list(markup, "https://x/")
    assert (
        info.value.message
        == "layout not recognised: https://x/ (no product feed and no pagination)"
    )


@pytest.mark.parametrize(
    "markup", ["", "<!-- nothing -->", "<!DOCTYPE html>", '<?xml version="1.0"?>']
)
def test_a_document_without_elements_is_an_empty_document(markup: str) -> None:
    with pytest.raises(StageError) as info:
        site.parse_list(markup, "https://x/")
    assert info.value.message == "https://x/: empty document"


def test_a_response_is_read_with_its_header_charset_over_the_page_claim() -> None:
    markup = list_page(feed=f'<div class="post-feed">{card(model="Café Ünit")}</div>')
    markup = markup.replace("<head>", '<head><meta charset="utf-8">')
    response = Response(
        "https://x/list/",
        200,
        markup.encode("iso-8859-1"),
        (("content-type", "text/html; charset=ISO-8859-1"),),
    )
    (entry,) = cards(site.parse_list(response))
    assert entry.model == "Café Ünit"
    assert entry.url == "https://x/csa_product/x/"


def test_pages_parse_the_same_from_many_threads() -> None:
    raw = fixture("list_nested.html")
    url = site.list_url(3)
    expected = site.parse_list(raw, url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: site.parse_list(raw, url), range(200)))
    assert all(result == expected for result in results)
