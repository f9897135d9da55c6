"""The demo catalogue's data: deterministic, stable under growth, positioned as
docs/architecture.md §6 says."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trio_crawl.demo import DemoCatalogue, DemoProduct
from trio_crawl.demo.products import DETAIL_LABELS, TABLE_CANDIDATES, make_product, slugify

CERTIFICATE = re.compile(r"CSA\d{2}\d{3}MAT\d{5}-\d{2}")


def _position_from_list(catalogue: DemoCatalogue, page: int, index_on_page: int) -> tuple[int, int]:
    """The arithmetic of docs/architecture.md §6, from what a crawler sees (last page, products
    on it)."""
    total = (catalogue.last_page - 1) * 12 + catalogue.on_last
    i_oldest = total - 1 - ((page - 1) * 12 + index_on_page)
    return i_oldest // 12, i_oldest % 12


def test_same_seed_gives_the_same_products() -> None:
    assert list(DemoCatalogue(200, seed=3)) == list(DemoCatalogue(200, seed=3))


def test_different_seeds_give_different_products() -> None:
    assert list(DemoCatalogue(50, seed=3)) != list(DemoCatalogue(50, seed=4))


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    serial=st.integers(0, 5000),
    extra_a=st.integers(1, 3000),
    extra_b=st.integers(1, 3000),
)
def test_product_k_is_the_same_whatever_the_catalogue_size(
    seed: int, serial: int, extra_a: int, extra_b: int
) -> None:
    small = DemoCatalogue(serial + extra_a, seed=seed)
    large = DemoCatalogue(serial + extra_b, seed=seed)
    assert small.by_serial(serial) == large.by_serial(serial)


def test_pages_are_newest_first_and_the_last_is_partial() -> None:
    catalogue = DemoCatalogue(100, seed=1)
    assert (catalogue.last_page, catalogue.on_last) == (9, 4)
    assert [p.serial for p in catalogue.page(1)] == list(range(99, 87, -1))
    assert [p.serial for p in catalogue.page(5)] == list(range(51, 39, -1))
    assert [p.serial for p in catalogue.page(9)] == [3, 2, 1, 0]
    assert [p.serial for p in catalogue] == list(range(99, -1, -1))
    with pytest.raises(IndexError):
        catalogue.page(10)
    with pytest.raises(IndexError):
        catalogue.page(0)


@pytest.mark.parametrize(
    ("products", "last_page", "on_last"),
    [(0, 1, 0), (1, 1, 1), (12, 1, 12), (13, 2, 1), (5780, 482, 8), (5776, 482, 4)],
)
def test_last_page_and_count_on_it(products: int, last_page: int, on_last: int) -> None:
    catalogue = DemoCatalogue(products)
    assert (catalogue.last_page, catalogue.on_last) == (last_page, on_last)


def test_expected_position_agrees_with_design_arithmetic() -> None:
    catalogue = DemoCatalogue(137, seed=5)
    for page in range(1, catalogue.last_page + 1):
        for index, product in enumerate(catalogue.page(page)):
            expected = _position_from_list(catalogue, page, index)
            assert catalogue.expected_position(product.slug) == expected
            assert catalogue.expected_id(product.slug) == f"p{expected[0]:04d}i{expected[1]:02d}"
    oldest = catalogue.page(catalogue.last_page)[-1]
    assert catalogue.expected_position(oldest.slug) == (0, 0)


def test_publish_adds_newest_products_and_keeps_old_positions() -> None:
    catalogue = DemoCatalogue(100, seed=2)
    before = {p.slug: catalogue.expected_position(p.slug) for p in catalogue}
    old_first_page = catalogue.page(1)
    version = catalogue.version

    new = catalogue.publish(7)

    assert [p.serial for p in new] == list(range(106, 99, -1))
    assert catalogue.total == 107 and catalogue.version == version + 1
    assert catalogue.page(1)[:7] == new
    assert catalogue.page(1)[7:] == old_first_page[:5]
    assert {slug: catalogue.expected_position(slug) for slug in before} == before
    for page in range(1, catalogue.last_page + 1):
        for index, product in enumerate(catalogue.page(page)):
            assert catalogue.expected_position(product.slug) == _position_from_list(
                catalogue, page, index
            )
    assert DemoCatalogue(107, seed=2).page(1) == catalogue.page(1)


def test_product_by_slug_and_unknown_slugs() -> None:
    catalogue = DemoCatalogue(30, seed=9)
    product = catalogue.by_serial(17)
    assert catalogue.product(product.slug) == product
    assert catalogue.find(product.slug) == product
    not_yet = make_product(9, 30)  # exists only once the catalogue grows
    for slug in ("nope", product.slug + "x", product.slug[:-2] + "18", not_yet.slug, "x-017"):
        assert catalogue.find(slug) is None
        with pytest.raises(KeyError):
            catalogue.product(slug)


def test_slugs_are_unique_and_url_safe() -> None:
    products = list(DemoCatalogue(3000, seed=7))
    slugs = [p.slug for p in products]
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) for slug in slugs)
    assert slugify("TRÅDFRI LED bulb E27 806 lm") == "tradfri-led-bulb-e27-806-lm"
    certificates = [p.certificate_id for p in products]
    assert len(set(certificates)) == len(certificates)


def _check_fields(product: DemoProduct) -> None:
    assert CERTIFICATE.fullmatch(product.certificate_id), product.certificate_id
    assert 0x1000 <= product.vid <= 0x13FF
    assert 1 <= product.pid <= 0xFFFF
    for number, text in ((product.vid, product.vid_text), (product.pid, product.pid_text)):
        assert re.fullmatch(r"0x[0-9A-F]{4}|[0-9]+", text)
        assert int(text, 16 if text.startswith("0x") else 10) == number
    assert re.fullmatch(r"0x[0-9A-F]{4}", product.primary_device_type_id)
    assert product.specification_version in {"1.0", "1.1", "1.2", "1.3", "1.4"}
    assert product.tis_trp_tested in {"Yes", "No", None}
    date.fromisoformat(product.certification_date)
    assert set(product.table_fields) <= set(TABLE_CANDIDATES)
    shown = {label for label, _ in product.rows()}
    assert set(product.table_fields) <= shown


def test_fields_look_like_the_live_catalogue() -> None:
    products = list(DemoCatalogue(2000, seed=7))
    for product in products:
        _check_fields(product)
    assert {p.vid_text.startswith("0x") for p in products} == {True, False}
    assert {p.pid_text.startswith("0x") for p in products} == {True, False}
    assert len({p.manufacturer for p in products}) >= 12
    assert len({p.device_type for p in products}) >= 13
    assert {"1.0", "1.4"} <= {p.specification_version for p in products}


def test_optional_and_table_only_fields_have_the_promised_shares() -> None:
    products = list(DemoCatalogue(4000, seed=7))

    def share(hits: Iterable[bool]) -> float:
        return sum(hits) / len(products)

    assert 0.07 < share(p.family_variant_sku is None for p in products) < 0.13
    assert 0.03 < share(p.tis_trp_tested is None for p in products) < 0.07
    assert 0.16 < share(bool(p.table_fields) for p in products) < 0.24


def test_newer_products_are_never_certified_earlier() -> None:
    dates = [p.certification_date for p in reversed(list(DemoCatalogue(3000, seed=7)))]
    assert dates == sorted(dates)
    assert dates[0] >= "2022-10-04"
    assert DemoCatalogue(100_000).by_serial(99_999).certification_date < "2033-01-01"


def test_rows_follow_the_page_label_order_and_skip_missing_fields() -> None:
    labels = [label for label, _ in DETAIL_LABELS]
    for product in DemoCatalogue(300, seed=7):
        shown = [label for label, _ in product.rows()]
        assert shown == [label for label in labels if label in shown]
        assert ("Family Variant SKU" in shown) == (product.family_variant_sku is not None)
        assert ("TIS/TRP Tested" in shown) == (product.tis_trp_tested is not None)


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="products"):
        DemoCatalogue(-1)
    with pytest.raises(ValueError, match="k"):
        DemoCatalogue(3).publish(-2)
