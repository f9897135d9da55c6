"""MatterCatalogue.parse_list against hand-written copies of the live list markup
(docs/architecture.md §6).

The fixtures were written from the live site's markup, not from `trio_crawl.demo`, so that the
parser and the demo server cannot share a mistake: the nested WordPress feed
(`div.post-feed > div.inner > article.product`), the newer block template
(`.wp-block-crown-blocks-product-index article.product`) and the old flat feed
(`div.post-feed > article.product`) must all yield the same kind of `ListPage`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.matter import MatterCatalogue
from trio_crawl.sites.records import ListEntry, ListPage

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://csa-iot.org"
QUERY = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049"
    "&p_certificate=&p_family=&p_firmware_ver="
)
site = MatterCatalogue(BASE)


def page_url(page: int) -> str:
    return f"{BASE}/csa-iot_products/page/{page}/?{QUERY}"


def parse(name: str, page: int) -> ListPage:
    return site.parse_list((FIXTURES / name).read_bytes(), page_url(page))


NESTED_URLS = [
    "https://csa-iot.org/csa_product/signify-philips-hue-smart-plug-eu/",
    "https://csa-iot.org/csa_product/eve-energy-outlet-matter/",
    "https://csa-iot.org/csa_product/nanoleaf-essentials-a19-bulb-2/",
    "https://csa-iot.org/csa_product/aqara-door-and-window-sensor-p2/",
    "https://csa-iot.org/csa_product/tp-link-tapo-p110m/",
    "https://csa-iot.org/csa_product/leviton-decora-smart-dimmer-d26hd/",
    "https://csa-iot.org/csa_product/meross-smart-wi-fi-plug-mini-mss115/",
    "https://csa-iot.org/csa_product/ikea-dirigera-hub/",
    "https://csa-iot.org/csa_product/schneider-electric-wiser-dimmer-switch/",
    "https://csa-iot.org/csa_product/govee-rgbic-floor-lamp-h6076/",
    "https://csa-iot.org/csa_product/tuya-smart-thermostat-wt410/",
    "https://csa-iot.org/csa_product/yale-assure-lock-2-touch/",
]

BLOCK_URLS = [
    "https://csa-iot.org/csa_product/wemo-smart-plug-with-thread-wsp100/",
    "https://csa-iot.org/csa_product/ecobee-smart-thermostat-premium/",
    "https://csa-iot.org/csa_product/sengled-smart-led-bulb-w41-n15a/",
    "https://csa-iot.org/csa_product/samsung-smartthings-station/",
    "https://csa-iot.org/csa_product/legrand-smart-lights-switch-wnal10/",
    "https://csa-iot.org/csa_product/switchbot-hub-2/",
    "https://csa-iot.org/csa_product/lifx-color-a19-matter/",
    "https://csa-iot.org/csa_product/wiz-connected-tunable-white-bulb/",
    "https://csa-iot.org/csa_product/netatmo-smart-radiator-valve/",
    "https://csa-iot.org/csa_product/onvis-smart-motion-sensor-s4/",
    "https://csa-iot.org/csa_product/google-nest-hub-2nd-gen/",
    "https://csa-iot.org/csa_product/amazon-echo-4th-gen-matter/",
]

FLAT_URLS = [
    "https://csa-iot.org/csa_product/silabs-mg24-light-switch-reference/",
    "https://csa-iot.org/csa_product/nordic-nrf5340-matter-lock/",
    "https://csa-iot.org/csa_product/espressif-esp32-c6-light/",
    "https://csa-iot.org/csa_product/nxp-k32w061-contact-sensor/",
    "https://csa-iot.org/csa_product/infineon-cyw30739-plug/",
    "https://csa-iot.org/csa_product/ti-cc2674-window-covering/",
    "https://csa-iot.org/csa_product/realtek-ameba-d-matter-bridge/",
    "https://csa-iot.org/csa_product/telink-tlsr9518-bulb/",
    "https://csa-iot.org/csa_product/bouffalo-bl706-light/",
    "https://csa-iot.org/csa_product/qorvo-qpg7015m-gateway/",
    "https://csa-iot.org/csa_product/apple-homepod-mini-matter/",
    "https://csa-iot.org/csa_product/csa-test-harness-device/",
]


# --- nested: div.post-feed.item-count-3 > div.inner > article > a > div.inner > div.contents


def test_nested_feed_reads_all_twelve_cards_in_page_order() -> None:
    page = parse("list_nested.html", 3)

    assert len(page.entries) == 12
    assert [entry.url for entry in page.entries] == NESTED_URLS


def test_nested_feed_fields_of_first_and_last_cards() -> None:
    page = parse("list_nested.html", 3)

    assert page.entries[0] == ListEntry(
        url="https://csa-iot.org/csa_product/signify-philips-hue-smart-plug-eu/",
        manufacturer="Signify Netherlands B.V.",
        model="Philips Hue Smart Plug (EU)",
        certificate_id="CSA24131MAT42187-24",
    )
    # The model carries an `&amp;` entity and is wrapped over several lines in the markup.
    assert page.entries[-1] == ListEntry(
        url="https://csa-iot.org/csa_product/yale-assure-lock-2-touch/",
        manufacturer="ASSA ABLOY Americas Residential Inc.",
        model="Yale Assure Lock 2 Touch & Keypad",
        certificate_id="CSA24123MAT42126-24",
    )


def test_nested_feed_card_with_image_and_title_links_is_one_entry() -> None:
    # Card 5 links to its detail page twice (thumbnail and title): one entry, with its fields.
    page = parse("list_nested.html", 3)

    tapo = [e for e in page.entries if e.url.endswith("/tp-link-tapo-p110m/")]
    assert tapo == [
        ListEntry(
            url="https://csa-iot.org/csa_product/tp-link-tapo-p110m/",
            manufacturer="TP-Link Corporation Limited",
            model="Tapo P110M Mini Smart Wi-Fi Plug",
            certificate_id="CSA24128MAT42163-24",
        )
    ]


def test_nested_feed_ignores_links_that_are_not_products() -> None:
    # The header (/membership/ …), the filters, a notice inside the feed and the footer all
    # link elsewhere; none of that may become an entry.
    page = parse("list_nested.html", 3)

    assert all("/csa_product/" in entry.url for entry in page.entries)
    assert len({entry.url for entry in page.entries}) == len(page.entries)


def test_nested_feed_pagination() -> None:
    page = parse("list_nested.html", 3)

    assert page.current == 3
    assert page.highest == 482


# --- block template: .wp-block-crown-blocks-product-index article.product (no div.post-feed)


def test_block_template_reads_all_twelve_cards_in_page_order() -> None:
    page = parse("list_block.html", 7)

    assert len(page.entries) == 12
    assert [entry.url for entry in page.entries] == BLOCK_URLS


def test_block_template_fields_of_first_and_last_cards() -> None:
    page = parse("list_block.html", 7)

    assert page.entries[0] == ListEntry(
        url="https://csa-iot.org/csa_product/wemo-smart-plug-with-thread-wsp100/",
        manufacturer="Belkin International, Inc.",
        model="Wemo Smart Plug with Thread",
        certificate_id="CSA23201MAT41302-24",
    )
    assert page.entries[-1] == ListEntry(
        url="https://csa-iot.org/csa_product/amazon-echo-4th-gen-matter/",
        manufacturer="Amazon.com Services LLC",
        model="Echo (4th Gen)",
        certificate_id="CSA23192MAT41236-24",
    )


def test_block_template_pagination() -> None:
    page = parse("list_block.html", 7)

    assert page.current == 7
    assert page.highest == 482


# --- flat (old) feed: div.post-feed > article.product.type-product


def test_flat_feed_reads_all_twelve_cards_in_page_order() -> None:
    page = parse("list_flat.html", 2)

    assert len(page.entries) == 12
    assert [entry.url for entry in page.entries] == FLAT_URLS


def test_flat_feed_fields_of_first_and_last_cards() -> None:
    page = parse("list_flat.html", 2)

    assert page.entries[0] == ListEntry(
        url="https://csa-iot.org/csa_product/silabs-mg24-light-switch-reference/",
        manufacturer="Silicon Laboratories Inc.",
        model="EFR32MG24 Light Switch Reference Design",
        certificate_id="CSA22101MAT40215-24",
    )
    assert page.entries[-1] == ListEntry(
        url="https://csa-iot.org/csa_product/csa-test-harness-device/",
        manufacturer="Connectivity Standards Alliance",
        model="Matter Test Harness Device",
        certificate_id="CSA22059MAT40059-24",
    )


def test_flat_feed_pagination() -> None:
    page = parse("list_flat.html", 2)

    assert page.current == 2
    assert page.highest == 482


# --- pages whose cards cannot be read are parse errors, never "the end of the catalogue"


def test_feed_without_product_cards_is_a_parse_error() -> None:
    # Pagination says page 5 of 482, but the feed holds only `div.card`s and a "No products
    # found" message: the layout changed, which must not look like an empty (final) page.
    url = page_url(5)
    with pytest.raises(StageError) as caught:
        site.parse_list((FIXTURES / "list_no_cards.html").read_bytes(), url)

    assert caught.value.kind is ErrorKind.parse_error
    assert url in caught.value.message
    assert "layout not recognised" in caught.value.message


def test_page_without_pagination_or_feed_is_a_parse_error() -> None:
    url = page_url(9)
    html = (
        "<!DOCTYPE html><html><head><title>Maintenance - CSA-IOT</title></head><body>"
        f'<header><nav><a href="{BASE}/membership/">Membership</a></nav></header>'
        "<main><h1>We'll be back soon</h1><p>The site is undergoing maintenance.</p></main>"
        "<footer>&copy; Connectivity Standards Alliance</footer></body></html>"
    )
    with pytest.raises(StageError) as caught:
        site.parse_list(html.encode(), url)

    assert caught.value.kind is ErrorKind.parse_error
    assert url in caught.value.message
