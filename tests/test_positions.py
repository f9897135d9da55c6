"""Stable product positions and crawl-range planning (docs/architecture.md §6)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.positions import (
    STRATEGIES,
    oldest_index_of,
    plan_pages,
    position,
    site_page_of,
    total_products,
)

PER_PAGE = 12


@st.composite
def catalogues(draw: st.DrawFn, max_pages: int = 60) -> tuple[int, int, int]:
    """(last_page, on_last, per_page) of a non-empty catalogue."""
    per_page = draw(st.sampled_from([PER_PAGE, 1, 5]))
    last_page = draw(st.integers(min_value=1, max_value=max_pages))
    on_last = draw(st.integers(min_value=1, max_value=per_page))
    return last_page, on_last, per_page


def shape_after_adding(last_page: int, on_last: int, per_page: int, added: int) -> tuple[int, int]:
    """(last_page, on_last) once `added` new products appear at the front."""
    total = total_products(last_page, on_last, per_page) + added
    new_last = (total - 1) // per_page + 1
    return new_last, total - (new_last - 1) * per_page


def all_site_slots(last_page: int, on_last: int, per_page: int) -> list[tuple[int, int]]:
    return [
        (page, index)
        for page in range(1, last_page + 1)
        for index in range(on_last if page == last_page else per_page)
    ]


def oldest_indices_on(page: int, last_page: int, on_last: int, per_page: int) -> set[int]:
    on_page = on_last if page == last_page else per_page
    return {
        oldest_index_of(
            *position(page, i, last_page=last_page, on_last=on_last, per_page=per_page)[:2],
            per_page=per_page,
        )
        for i in range(on_page)
    }


# The original system's figures


def test_total_of_482_pages_with_4_on_the_last() -> None:
    assert total_products(482, 4) == 5776


def test_oldest_product_is_position_zero_and_newest_is_last() -> None:
    assert position(482, 3, last_page=482, on_last=4) == (0, 0, "p0000i00")
    assert position(482, 0, last_page=482, on_last=4) == (0, 3, "p0000i03")
    assert position(481, 11, last_page=482, on_last=4) == (0, 4, "p0000i04")
    assert position(1, 0, last_page=482, on_last=4) == (481, 3, "p0481i03")


def test_worked_example_116_stored_482_pages_4_on_last_limit_100() -> None:
    pages = plan_pages("continue_from_db", last_page=482, on_last=4, limit=100, newest_stored=115)
    assert pages == list(range(472, 372, -1))
    assert (pages[0], pages[-1], len(pages)) == (472, 373, 100)


def test_empty_db_crawls_the_oldest_pages_oldest_first() -> None:
    pages = plan_pages("continue_from_db", last_page=482, on_last=4, limit=100, newest_stored=None)
    assert pages == list(range(482, 382, -1))
    few = plan_pages("continue_from_db", last_page=3, on_last=4, limit=100, newest_stored=None)
    assert few == [3, 2, 1]


def test_page_stored_up_to_its_newest_product_is_not_crawled_again() -> None:
    # Page 482 holds oldest indices 0..3, page 481 holds 4..15.
    after_last = plan_pages("continue_from_db", last_page=482, on_last=4, limit=2, newest_stored=3)
    assert after_last == [481, 480]
    partly = plan_pages("continue_from_db", last_page=482, on_last=4, limit=2, newest_stored=2)
    assert partly == [482, 481]


def test_everything_stored_plans_nothing() -> None:
    total = total_products(482, 4)
    assert (
        plan_pages("continue_from_db", last_page=482, on_last=4, limit=100, newest_stored=total - 1)
        == []
    )
    # A catalogue that shrank below what is stored has nothing newer either.
    assert (
        plan_pages(
            "continue_from_db", last_page=482, on_last=4, limit=100, newest_stored=total + 50
        )
        == []
    )


def test_newest_first_and_full_strategies() -> None:
    assert plan_pages("newest_first", last_page=482, on_last=4, limit=3, newest_stored=None) == [
        1,
        2,
        3,
    ]
    assert plan_pages("newest_first", last_page=2, on_last=4, limit=3, newest_stored=7) == [1, 2]
    assert plan_pages("full", last_page=4, on_last=4, limit=1, newest_stored=30) == [4, 3, 2, 1]


def test_one_page_empty_catalogue() -> None:
    assert total_products(1, 0) == 0
    # No product to fetch, so no page to crawl (the status check has read page 1 already).
    assert plan_pages("continue_from_db", last_page=1, on_last=0, limit=5, newest_stored=None) == []
    assert plan_pages("full", last_page=1, on_last=0, limit=5) == [1]
    with pytest.raises(ValueError):
        position(1, 0, last_page=1, on_last=0)


# Bad input


def test_unknown_strategy_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'oldest_first'"):
        plan_pages("oldest_first", last_page=3, on_last=1, limit=1, newest_stored=None)
    assert set(STRATEGIES) == {"continue_from_db", "newest_first", "full"}


@pytest.mark.parametrize(("page", "index"), [(0, 0), (483, 0), (482, 4), (1, 12), (1, -1), (-1, 0)])
def test_positions_outside_the_catalogue_are_value_errors(page: int, index: int) -> None:
    with pytest.raises(ValueError):
        position(page, index, last_page=482, on_last=4)


@pytest.mark.parametrize(
    ("last_page", "on_last", "per_page"), [(0, 1, 12), (2, 0, 12), (2, 13, 12), (2, 1, 0)]
)
def test_impossible_catalogue_shapes_are_value_errors(
    last_page: int, on_last: int, per_page: int
) -> None:
    with pytest.raises(ValueError):
        total_products(last_page, on_last, per_page)
    with pytest.raises(ValueError):
        plan_pages(
            "full",
            last_page=last_page,
            on_last=on_last,
            per_page=per_page,
            limit=1,
            newest_stored=None,
        )


def test_impossible_plan_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError):
        plan_pages("continue_from_db", last_page=3, on_last=1, limit=-1, newest_stored=None)
    with pytest.raises(ValueError):
        plan_pages("continue_from_db", last_page=3, on_last=1, limit=1, newest_stored=-1)


@pytest.mark.parametrize(("page_id", "index"), [(-1, 0), (0, -1), (0, 12)])
def test_oldest_index_of_rejects_non_positions(page_id: int, index: int) -> None:
    with pytest.raises(ValueError):
        oldest_index_of(page_id, index)


# Properties


@given(catalogues())
def test_positions_are_unique_and_cover_0_to_total(shape: tuple[int, int, int]) -> None:
    last_page, on_last, per_page = shape
    slots = all_site_slots(last_page, on_last, per_page)
    positions = [
        position(page, index, last_page=last_page, on_last=on_last, per_page=per_page)
        for page, index in slots
    ]
    assert len({p[2] for p in positions}) == len(positions)
    assert len({p[:2] for p in positions}) == len(positions)
    indices = sorted(oldest_index_of(p[0], p[1], per_page) for p in positions)
    assert indices == list(range(total_products(last_page, on_last, per_page)))
    for (page, index), (page_id, index_in_page, _) in zip(slots, positions, strict=True):
        assert 0 <= index_in_page < per_page
        oldest = oldest_index_of(page_id, index_in_page, per_page)
        shown = site_page_of(oldest, last_page=last_page, on_last=on_last, per_page=per_page)
        assert shown == (page, index)


@given(catalogues(), st.integers(min_value=0, max_value=40))
def test_positions_are_stable_when_products_are_added_at_the_front(
    shape: tuple[int, int, int], added: int
) -> None:
    last_page, on_last, per_page = shape
    new_last, new_on_last = shape_after_adding(last_page, on_last, per_page, added)
    for page, index in all_site_slots(last_page, on_last, per_page):
        # The site now shows this product `added` places further down its newest-first list.
        new_page, new_index = divmod((page - 1) * per_page + index + added, per_page)
        before = position(page, index, last_page=last_page, on_last=on_last, per_page=per_page)
        after = position(
            new_page + 1, new_index, last_page=new_last, on_last=new_on_last, per_page=per_page
        )
        assert after == before


@given(
    catalogues(),
    st.integers(min_value=0, max_value=70),
    st.sampled_from(STRATEGIES),
    st.integers(min_value=-1, max_value=800),
)
def test_plans_stay_inside_the_catalogue_are_contiguous_and_bounded(
    shape: tuple[int, int, int], limit: int, strategy: str, stored: int
) -> None:
    last_page, on_last, per_page = shape
    total = total_products(last_page, on_last, per_page)
    newest_stored = None if stored < 0 else min(stored, total - 1)
    pages = plan_pages(
        strategy,
        last_page=last_page,
        on_last=on_last,
        per_page=per_page,
        limit=limit,
        newest_stored=newest_stored,
    )
    assert all(1 <= page <= last_page for page in pages)
    assert len(set(pages)) == len(pages)
    if strategy == "full":
        assert pages == list(range(last_page, 0, -1))
        return
    assert len(pages) <= limit
    step = 1 if strategy == "newest_first" else -1
    assert all(b - a == step for a, b in itertools.pairwise(pages))
    if strategy == "continue_from_db" and newest_stored is not None and pages:
        # The first page planned holds the first product not yet stored.
        first = oldest_indices_on(pages[0], last_page, on_last, per_page)
        assert newest_stored + 1 in first


@given(
    catalogues(max_pages=40),
    st.integers(min_value=1, max_value=15),
    st.lists(st.integers(min_value=0, max_value=30), max_size=6),
)
def test_continuing_run_after_run_stores_the_whole_catalogue(
    shape: tuple[int, int, int], limit: int, arrivals: list[int]
) -> None:
    """Each run stores every product on the pages planned; between runs new products arrive at
    the front. Stored products stay a contiguous run from the oldest, and the runs end with
    everything stored."""
    last_page, on_last, per_page = shape
    stored: set[int] = set()
    arrivals = list(arrivals)
    for _run in range(10_000):
        newest = max(stored) if stored else None
        pages = plan_pages(
            "continue_from_db",
            last_page=last_page,
            on_last=on_last,
            per_page=per_page,
            limit=limit,
            newest_stored=newest,
        )
        if not pages and not arrivals:
            break
        for page in pages:
            stored |= oldest_indices_on(page, last_page, on_last, per_page)
        assert stored == set(range(len(stored)))
        if arrivals:
            last_page, on_last = shape_after_adding(last_page, on_last, per_page, arrivals.pop())
    else:
        pytest.fail("continue_from_db never finished")
    assert stored == set(range(total_products(last_page, on_last, per_page)))
