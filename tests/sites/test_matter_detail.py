"""MatterCatalogue: detail pages (docs/architecture.md §6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites import MatterCatalogue, ProductDetail

FIXTURES = Path(__file__).parent / "fixtures"
site = MatterCatalogue("https://csa-iot.org")
URL = site.detail_url("tuya-smart-plug")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def detail_page(rows: dict[str, str], title: str = "Plug") -> str:
    items = "".join(
        f'<li class="item"><span class="label">{label}</span>'
        f'<span class="value">{value}</span></li>'
        for label, value in rows.items()
    )
    return (
        "<html><body><article>"
        f'<p class="entry-company">Acme</p><h1 class="entry-title">{title}</h1>'
        f'<div class="entry-product-details"><ul>{items}</ul></div>'
        "</article></body></html>"
    )


def test_detail_page_with_every_field_in_list_rows() -> None:
    detail = site.parse_detail(fixture("detail_full.html"), URL)
    assert detail == ProductDetail(
        url=URL,
        model="Smart Plug",
        manufacturer="Hangzhou Tuya Information Technology Co., Ltd",
        device_type="On/Off Plug-in Unit",
        certificate_id="CSA22059MAT40059-24",
        certification_date="11/24/2022",
        software_version="1.0.3 (build 4721)",
        hardware_version="1.0",
        firmware_version="1.0.3",
        specification_version="1.0",
        vid=0x131B,
        pid=0x8001,
        family_sku="SP-EU-01",
        family_variant_sku="SP-EU-01-W",
        family_id="FAM-1234",
        tis_trp_tested="No",
        transport_interface="Wi-Fi",
        primary_device_type_id="0x010A",
        program_type="Matter",
    )


def test_fields_only_in_the_certificates_table_are_read() -> None:
    detail = site.parse_detail(fixture("detail_table.html"), URL)
    assert detail.certification_date == "03/14/2023"  # <th> label, <td> value
    assert detail.specification_version == "1.1"
    assert detail.tis_trp_tested == "Yes"  # <td> label, <td> value
    assert detail.transport_interface == "Thread"
    assert detail.hardware_version == "B2"
    assert detail.primary_device_type_id == "0x0107"


def test_list_rows_win_over_the_certificates_table() -> None:
    detail = site.parse_detail(fixture("detail_table.html"), URL)
    assert detail.firmware_version == "2.1.0"


def test_decimal_vendor_and_product_ids_become_integers() -> None:
    detail = site.parse_detail(fixture("detail_table.html"), URL)
    assert (detail.vid, detail.pid) == (4939, 32769)


def test_sparse_page_with_messy_labels_and_entities() -> None:
    detail = site.parse_detail(fixture("detail_sparse.html"), URL)
    assert detail.model == "Caf\u00e9 Smart Light & Dimmer"
    assert detail.manufacturer == "AT&T Smart Home"
    assert detail.device_type is None
    assert detail.certificate_id == "CSA23456MAT41890-23"  # label "  certificate   id: "
    assert (detail.vid, detail.pid) == (0x10D0, 0x000A)  # "0x10d0", "0X000a"
    assert detail.software_version == "v2.0 \u2013 beta"  # &nbsp; and &ndash;
    assert detail.transport_interface == "Thread, Bluetooth LE"
    # An empty value is a missing value, and unknown labels are ignored.
    assert detail.firmware_version is None
    assert detail.certification_date is None
    assert detail.family_id is None
    assert detail.program_type == "Matter"


def test_related_product_cards_do_not_supply_the_manufacturer() -> None:
    markup = fixture("detail_full.html").replace(
        '<p class="entry-company">Hangzhou Tuya Information Technology Co., Ltd</p>', ""
    )
    detail = site.parse_detail(markup, URL)
    assert detail.manufacturer is None
    assert detail.model == "Smart Plug"


def test_bytes_input_is_decoded_as_utf8() -> None:
    raw = (FIXTURES / "detail_sparse.html").read_bytes()
    assert site.parse_detail(raw, URL) == site.parse_detail(raw.decode("utf-8"), URL)


def test_page_with_rows_but_no_title_is_accepted() -> None:
    markup = detail_page({"Vendor ID": "1"}).replace('class="entry-title"', 'class="other"')
    detail = site.parse_detail(markup, URL)
    assert (detail.model, detail.vid) == (None, 1)


def test_page_with_title_but_no_rows_is_accepted() -> None:
    detail = site.parse_detail(detail_page({}), URL)
    assert detail == ProductDetail(
        url=URL, model="Plug", manufacturer="Acme", program_type="Matter"
    )


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("Certificate ID", "certificate_id"),
        ("Family Id", "family_id"),
        ("FAMILY ID:", "family_id"),
        ("Family SKU", "family_sku"),
        ("Family Variant SKU", "family_variant_sku"),
        ("Firmware Version", "firmware_version"),
        ("Hardware Version", "hardware_version"),
        ("Software Version", "software_version"),
        ("Certification Date", "certification_date"),
        ("TIS/TRP Tested", "tis_trp_tested"),
        ("tis/trp tested :", "tis_trp_tested"),
        ("Specification Version", "specification_version"),
        ("Transport Interface", "transport_interface"),
        ("Primary Device Type Id", "primary_device_type_id"),
        ("  Primary\n Device  Type ID", "primary_device_type_id"),
    ],
)
def test_labels_map_to_fields_ignoring_case_space_and_colons(label: str, field: str) -> None:
    detail = site.parse_detail(detail_page({label: "value"}), URL)
    assert getattr(detail, field) == "value"


@pytest.mark.parametrize(
    "item",
    [
        # The live markup, which the parser reads from the row's serialisation.
        '<li class="item"><span class="label">Software Version</span>'
        '<span class="value">1.0  (build 7)</span></li>',
        # Anything else is walked node by node, and must read the same.
        '<li class="item">\n<span class="label">Software Version</span>\n'
        '<span class="value">1.0 (build 7)</span>\n</li>',
        '<li class="item odd"><span class="label">Software&nbsp;Version:</span>'
        '<span class="value"><b>1.0</b> (build&#32;7)</span></li>',
        '<li class="item"><div><span class="label">Software Version</span></div>'
        '<span class="extra">x</span><!-- c --><span class="value">1.0 (build 7)</span></li>',
        '<li class="item"><span class="label value">Software Version</span>'
        '<span class="value">1.0 (build 7)</span></li>',
    ],
)
def test_a_row_reads_the_same_however_it_is_marked_up(item: str) -> None:
    markup = detail_page({}).replace("<ul></ul>", f"<ul>{item}</ul>")
    assert site.parse_detail(markup, URL).software_version == "1.0 (build 7)"


def test_a_row_without_a_value_leaves_the_field_to_a_later_row() -> None:
    markup = detail_page({}).replace(
        "<ul></ul>",
        '<ul><li class="item"><span class="label">Vendor ID</span></li>'
        '<li class="item"><span class="label">Vendor ID</span><span class="value"></span></li>'
        '<li class="item"><span class="label">Vendor ID</span><span class="value">7</span></li>'
        '<li class="item"><span class="label">Vendor ID</span><span class="value">8</span></li>'
        "</ul>",
    )
    assert site.parse_detail(markup, URL).vid == 7


def test_unknown_labels_are_ignored() -> None:
    detail = site.parse_detail(detail_page({"Colour": "red", "Vendor": "Acme"}), URL)
    assert detail == ProductDetail(
        url=URL, model="Plug", manufacturer="Acme", program_type="Matter"
    )


@pytest.mark.parametrize(
    ("raw", "value"),
    [("0x131B", 0x131B), ("0x131b", 0x131B), ("0X00FF", 255), ("4939", 4939), ("0", 0)],
)
def test_vendor_and_product_ids_may_be_hex_or_decimal(raw: str, value: int) -> None:
    detail = site.parse_detail(detail_page({"Vendor ID": raw, "Product ID": raw}), URL)
    assert (detail.vid, detail.pid) == (value, value)


@pytest.mark.parametrize(
    "raw", ["131B", "0x", "0xZZ", "12.5", "1_000", "-1", "N/A", "0x131B (4891)"]
)
@pytest.mark.parametrize(("label", "field"), [("Vendor ID", "vid"), ("Product ID", "pid")])
def test_unparsable_id_is_a_parse_error_naming_field_and_value(
    raw: str, label: str, field: str
) -> None:
    with pytest.raises(StageError) as info:
        site.parse_detail(detail_page({label: raw}), URL)
    assert info.value.kind is ErrorKind.parse_error
    assert field in info.value.message
    assert repr(raw) in info.value.message


def test_non_ascii_digits_are_not_an_id() -> None:
    with pytest.raises(StageError):
        site.parse_detail(detail_page({"Vendor ID": "\u0661\u0662"}), URL)


@given(st.integers(min_value=0, max_value=2**32), st.booleans(), st.booleans())
def test_any_id_round_trips_in_hex_or_decimal(value: int, as_hex: bool, upper: bool) -> None:
    raw = f"0x{value:X}" if as_hex else str(value)
    raw = raw.upper() if upper else raw.lower()
    assert site.parse_detail(detail_page({"Vendor ID": raw}), URL).vid == value


def test_truncated_page_is_a_parse_error() -> None:
    with pytest.raises(StageError) as info:
        site.parse_detail(fixture("detail_truncated.html"), URL)
    assert info.value.kind is ErrorKind.parse_error
    assert URL in info.value.message


@pytest.mark.parametrize(
    "markup",
    [
        "",
        "<html><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
        "<html><body><p>Just a moment...</p></body></html>",
    ],
)
def test_page_that_is_not_a_product_page_is_a_parse_error(markup: str) -> None:
    with pytest.raises(StageError) as info:
        site.parse_detail(markup, URL)
    assert info.value.kind is ErrorKind.parse_error


def test_list_page_is_not_a_detail_page() -> None:
    with pytest.raises(StageError):
        site.parse_detail(fixture("list_page_1.html"), URL)
