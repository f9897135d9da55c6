"""The bookshop demo over real HTTP on 127.0.0.1: its charset, markup, routes, data and faults.

The pages are read with lxml and plain byte search only; no crawler parser is imported, so
these tests pin the site's specification rather than one reading of it.
"""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys
from datetime import date
from typing import Any

import httpx
import lxml.html
import pytest
import trio

from trio_crawl.cli import UsageError, build_parser
from trio_crawl.demo import (
    DemoBook,
    DemoBookshop,
    DemoCatalogue,
    DemoServer,
    FaultConfig,
    serve_demo,
)

LATIN1_HTML = "text/html; charset=iso-8859-1"


async def start(
    nursery: trio.Nursery, shop: DemoBookshop | None = None, faults: FaultConfig | None = None
) -> DemoServer:
    serve = functools.partial(
        serve_demo, DemoCatalogue(30, 3), bookshop=shop, faults=faults or FaultConfig()
    )
    server: DemoServer = await nursery.start(serve)
    return server


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=10)


def parse(response: httpx.Response) -> Any:
    """The page as a browser reads it: decoded with the header's charset (the page has none)."""
    assert response.charset_encoding == "iso-8859-1"
    return lxml.html.fromstring(response.content.decode("iso-8859-1"))


def text(element: Any) -> str:
    return str(element.text_content())


def only(doc: Any, selector: str) -> Any:
    found = doc.cssselect(selector)
    assert len(found) == 1, (selector, len(found))
    return found[0]


def check_digit(first12: str) -> int:
    """An ISBN-13 check digit computed here, independently of the code under test."""
    weighted = sum(int(d) * w for d, w in zip(first12, [1, 3] * 6, strict=True))
    return (10 - weighted % 10) % 10


def cards(doc: Any) -> list[dict[str, str]]:
    """What each `li.book` card shows, by field."""
    out = []
    for li in doc.cssselect("section.catalogue > ol.books > li.book"):
        link = only(li, "article.book-card > h3 > a")
        availability = only(li, "p.availability")
        out.append(
            {
                "href": link.get("href"),
                "title_attr": link.get("title"),
                "title": text(link),
                "author": text(only(li, "p.author")),
                "price": text(only(li, "p.price")),
                "availability": text(availability),
                "class": availability.get("class"),
            }
        )
    return out


def expected_card(book: DemoBook) -> dict[str, str]:
    in_stock = book.stock > 0
    return {
        "href": f"/books/item/{book.slug}/",
        "title_attr": book.title,
        "title": book.title,
        "author": f"by {book.author}",
        "price": f"£{book.price_pence // 100}.{book.price_pence % 100:02d}",
        "availability": "In stock" if in_stock else "Out of stock",
        "class": "availability in-stock" if in_stock else "availability out-of-stock",
    }


def pager(doc: Any) -> tuple[str | None, str, str | None]:
    """(previous href, current text, next href) of the `ul.pager`; None for a missing link."""
    ul = only(doc, "section.catalogue > ul.pager")
    previous = ul.cssselect("li.previous > a")
    following = ul.cssselect("li.next > a")
    return (
        previous[0].get("href") if previous else None,
        text(only(ul, "li.current")),
        following[0].get("href") if following else None,
    )


# --- the charset ------------------------------------------------------------------------------


async def test_every_page_is_latin1_declared_only_in_the_header(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    shop = server.bookshop
    urls = [server.book_list_url(n) for n in range(1, 6)]
    urls += [server.book_url(book.slug) for book in shop]
    urls += [server.book_list_url(6), server.bookshop_url + "about/"]
    async with client() as http:
        for url in urls:
            response = await http.get(url)
            assert response.headers["content-type"] == LATIN1_HTML, url
            body = response.content
            assert b"<meta" not in body.lower() and b"charset" not in body.lower(), url
            # 0x80..0x9F are where Latin-1 and windows-1252 (a browser's reading) disagree.
            assert not re.search(rb"[\x80-\x9f]", body), url
            assert b"\xc2\xa3" not in body and b"\xc3" not in body, url  # no UTF-8 anywhere


async def test_accented_text_and_the_pound_sign_are_latin1_bytes(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    books = server.bookshop.page(1)
    accented = [book for book in books if not book.title.isascii()]
    assert accented, "page 1 should show accented titles"
    async with client() as http:
        body = (await http.get(server.bookshop_url)).content
    assert b"\xa3" in body and "£".encode() not in body
    for book in accented:
        assert book.title.encode("iso-8859-1") in body.replace(b"&amp;", b"&")
        assert book.title.encode("utf-8") not in body
    # A crawler that decodes as UTF-8 loses the accents.
    assert body.decode("utf-8", errors="replace") != body.decode("iso-8859-1")


async def test_the_en_dash_of_the_titles_is_a_character_reference(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        response = await http.get(server.book_list_url(2))
    assert b"<title>Bookshop &#8211; page 2 of 5</title>" in response.content
    assert text(only(parse(response), "title")) == "Bookshop \N{EN DASH} page 2 of 5"


# --- list pages -------------------------------------------------------------------------------


async def test_page_one_shows_the_ten_oldest_books_and_a_next_link(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    shop = server.bookshop
    async with client() as http:
        doc = parse(await http.get(server.book_list_url(1)))
    shown = cards(doc)
    assert len(shown) == 10
    assert shown == [expected_card(book) for book in shop.page(1)]
    assert [book.index for book in shop.page(1)] == list(range(10))
    assert all(re.fullmatch(r"/books/item/[a-z0-9-]+/", card["href"]) for card in shown)
    assert pager(doc) == (None, "Page 1 of 5", "?page=2")
    assert [a.get("href") for a in doc.cssselect("header > a")] == ["/books/", "/books/about/"]
    assert only(doc, "footer > a").get("href") == "/books/about/"


async def test_the_last_page_holds_the_remaining_seven_and_no_next(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    async with client() as http:
        doc = parse(await http.get(server.book_list_url(5)))
    assert cards(doc) == [expected_card(book) for book in server.bookshop.page(5)]
    assert len(cards(doc)) == 7
    assert pager(doc) == ("?page=4", "Page 5 of 5", None)


async def test_every_page_lists_its_books_oldest_first_at_their_positions(
    nursery: trio.Nursery,
) -> None:
    server = await start(nursery)
    shop = server.bookshop
    seen: list[str] = []
    async with client() as http:
        for n in range(1, 6):
            doc = parse(await http.get(server.book_list_url(n)))
            slugs = [card["href"].split("/")[-2] for card in cards(doc)]
            for index, slug in enumerate(slugs):
                assert shop.expected_position(slug) == (n - 1, index)
            previous = f"?page={n - 1}" if n > 1 else None
            following = f"?page={n + 1}" if n < 5 else None
            assert pager(doc) == (previous, f"Page {n} of 5", following)
            seen += slugs
    assert seen == [book.slug for book in shop]
    assert len(set(seen)) == shop.total == 47


async def test_the_root_is_page_one_and_other_query_parameters_are_ignored(
    nursery: trio.Nursery,
) -> None:
    server = await start(nursery)
    base = server.base_url
    async with client() as http:
        first = (await http.get(f"{base}/books/?page=1")).content
        second = (await http.get(f"{base}/books/?page=2")).content
        for url in (f"{base}/books/", f"{base}/books", f"{base}/books/?sort=title&x"):
            response = await http.get(url)
            assert (response.status_code, response.content) == (200, first), url
        for url in (f"{base}/books/?sort=price&page=2", f"{base}/books/?page=2&page=9"):
            response = await http.get(url)
            assert (response.status_code, response.content) == (200, second), url
    assert first != second


@pytest.mark.parametrize("value", ["6", "0", "-1", "x", "", "2.0", "+2", "9999999999"])
async def test_a_page_that_does_not_exist_is_a_404(nursery: trio.Nursery, value: str) -> None:
    server = await start(nursery)
    async with client() as http:
        response = await http.get(f"{server.base_url}/books/?page={value}")
    assert response.status_code == 404
    assert response.headers["content-type"] == LATIN1_HTML
    assert b"<h1>Not found</h1>" in response.content
    assert (server.stats.book_lists, server.stats.not_found) == (1, 1)


# --- detail pages -----------------------------------------------------------------------------


def detail_fields(doc: Any) -> dict[str, str]:
    article = only(doc, "article.book-page")
    fields = {
        "h1": text(only(article, "h1")),
        "author": text(only(article, "p.author")),
        "description": text(only(article, "p.description")),
        "title": text(only(doc, "title")),
    }
    for row in article.cssselect("table.book-facts tr"):
        fields[text(only(row, "th"))] = text(only(row, "td"))
    return fields


def expected_detail(book: DemoBook) -> dict[str, str]:
    availability = f"In stock ({book.stock} available)" if book.stock else "Out of stock"
    return {
        "h1": book.title,
        "author": f"by {book.author}",
        "description": book.description,
        "title": f"{book.title} \N{EN DASH} Bookshop",
        "ISBN": book.isbn,
        "Price": f"£{book.price_pence // 100}.{book.price_pence % 100:02d}",
        "Availability": availability,
        "Pages": str(book.pages),
        "Published": book.published.isoformat(),
    }


async def test_every_detail_page_shows_its_books_fields(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    shop = server.bookshop
    async with client() as http:
        for book in shop:
            response = await http.get(server.book_url(book.slug))
            assert response.status_code == 200
            doc = parse(response)
            assert detail_fields(doc) == expected_detail(book)
            labels = [text(th) for th in doc.cssselect("table.book-facts th")]
            assert labels == ["ISBN", "Price", "Availability", "Pages", "Published"]
    assert server.stats.book_details == 47


async def test_unknown_books_and_other_bookshop_paths_are_404s(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    slug = server.bookshop.page(1)[0].slug
    async with client() as http:
        assert (await http.get(server.book_url(slug))).status_code == 200
        assert (await http.get(f"{server.bookshop_url}item/{slug}")).status_code == 200
        for path in (f"item/{slug}x/", "item/", "item/a/b/", "robots.txt", "page/2/", "x"):
            response = await http.get(server.bookshop_url + path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == LATIN1_HTML, path
            assert b"<h1>Not found</h1>" in response.content
        about = await http.get(server.bookshop_url + "about/")
        robots = await http.get(server.base_url + "/robots.txt")
    assert about.status_code == 200 and b"47 books on 5 pages" in about.content
    assert robots.status_code == 200 and b"User-agent: *" in robots.content


async def test_text_and_attributes_are_html_escaped(nursery: trio.Nursery) -> None:
    shop = DemoBookshop(200)
    server = await start(nursery, shop)
    ampersand = next(book for book in shop if "&" in book.title)
    apostrophe = next(book for book in shop if "'" in book.author)
    async with client() as http:
        for book in (ampersand, apostrophe):
            page = shop.expected_position(book.slug)[0] + 1
            listing = await http.get(server.book_list_url(page))
            detail = await http.get(server.book_url(book.slug))
            for body in (listing.content, detail.content):
                assert not re.search(rb"&(?![a-z]+;|#x?[0-9a-f]+;)", body)
                assert b"'" not in body
            assert expected_card(book) in cards(parse(listing))
            assert detail_fields(parse(detail)) == expected_detail(book)


# --- data -------------------------------------------------------------------------------------


def test_every_isbn_is_a_valid_unique_isbn13_with_prefix_978_or_979() -> None:
    shop = DemoBookshop(3000, seed=4)
    isbns = [book.isbn for book in shop]
    for isbn in isbns:
        assert re.fullmatch(r"97[89][0-9]{10}", isbn), isbn
        assert int(isbn[-1]) == check_digit(isbn[:12]), isbn
    assert len(set(isbns)) == len(isbns)
    assert {isbn[:3] for isbn in isbns} == {"978", "979"}
    assert check_digit("978030640615") == 7  # the textbook example: 978-0-306-40615-7


def test_books_fields_stay_within_their_ranges() -> None:
    books = list(DemoBookshop(3000, seed=1))
    assert [book.index for book in books] == list(range(3000))
    for book in books:
        assert 199 <= book.price_pence <= 4999
        assert 0 <= book.stock <= 20
        assert 48 <= book.pages <= 1200
        assert date(1950, 1, 1) <= book.published <= date(2025, 12, 31)
        assert 2 <= len(book.title.replace(" & ", " ").removeprefix("The ").split()) <= 5
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-[0-9]+", book.slug), book.slug
        assert book.slug.endswith(f"-{book.index + 1}")
        for value in (book.title, book.author, book.description):
            value.encode("iso-8859-1")
    assert len({book.slug for book in books}) == 3000
    out_of_stock = sum(book.stock == 0 for book in books)
    assert 450 < out_of_stock < 750  # about 20 %
    assert sum(not book.title.isascii() for book in books) > 1500
    assert sum(not book.author.isascii() for book in books) > 1000


def test_a_seed_gives_the_same_books_and_publishing_continues_its_stream() -> None:
    assert list(DemoBookshop(47, seed=9)) == list(DemoBookshop(47, seed=9))
    assert list(DemoBookshop(47, seed=9)) != list(DemoBookshop(47, seed=10))
    assert list(DemoBookshop()) == list(DemoBookshop(47, seed=0))
    grown = DemoBookshop(47, seed=9)
    new = grown.publish(5)
    assert list(grown) == list(DemoBookshop(52, seed=9))
    assert new == list(grown)[47:]
    assert list(DemoBookshop(20, seed=9)) == list(DemoBookshop(47, seed=9))[:20]


def test_shop_accessors() -> None:
    shop = DemoBookshop()
    book = shop.page(3)[4]
    assert (shop.total, shop.last_page, len(shop)) == (47, 5, 47)
    assert shop.book(book.slug) == book and shop.find("nope") is None
    assert shop.expected_position(book.slug) == (2, 4) == divmod(book.index, 10)
    with pytest.raises(KeyError):
        shop.book("nope")
    with pytest.raises(IndexError):
        shop.page(6)
    with pytest.raises(IndexError):
        shop.page(0)
    with pytest.raises(ValueError):
        DemoBookshop(-1)
    empty = DemoBookshop(0)
    assert (empty.total, empty.last_page, empty.page(1)) == (0, 1, [])


# --- growth -----------------------------------------------------------------------------------


async def test_publishing_fills_the_last_page_then_opens_a_new_one(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    shop = server.bookshop
    async with client() as http:
        before = [cards(parse(await http.get(server.book_list_url(n)))) for n in range(1, 6)]
        new = shop.publish(5)
        after = [cards(parse(await http.get(server.book_list_url(n)))) for n in range(1, 7)]
        fifth = parse(await http.get(server.book_list_url(5)))
        sixth = parse(await http.get(server.book_list_url(6)))
        seventh = await http.get(server.book_list_url(7))
    assert after[:4] == before[:4]
    assert after[4] == before[4] + [expected_card(book) for book in new[:3]]
    assert len(after[4]) == 10
    assert after[5] == [expected_card(book) for book in new[3:]]
    assert len(after[5]) == 2
    assert pager(fifth) == ("?page=4", "Page 5 of 6", "?page=6")
    assert pager(sixth) == ("?page=5", "Page 6 of 6", None)
    assert seventh.status_code == 404
    assert [shop.expected_position(book.slug) for book in new] == [
        (4, 7), (4, 8), (4, 9), (5, 0), (5, 1),
    ]  # fmt: skip


async def test_two_servers_with_the_same_seed_serve_the_same_bytes(nursery: trio.Nursery) -> None:
    one = await start(nursery, DemoBookshop(30, seed=5))
    two = await start(nursery, DemoBookshop(30, seed=5))
    other = await start(nursery, DemoBookshop(30, seed=6))
    async with client() as http:
        for n in (1, 2, 3):
            pages = [(await http.get(s.book_list_url(n))).content for s in (one, two, other)]
            assert pages[0] == pages[1] != pages[2]


# --- the server around it ---------------------------------------------------------------------


async def test_the_default_bookshop_and_separate_stats(nursery: trio.Nursery) -> None:
    server = await start(nursery)
    assert list(server.bookshop) == list(DemoBookshop())
    assert server.bookshop_url == server.base_url + "/books/"
    async with client() as http:
        await http.get(server.bookshop_url)
        await http.get(server.book_list_url(2))
        await http.get(server.book_list_url(9))
        await http.get(server.book_url(server.bookshop.page(1)[0].slug))
        await http.get(server.list_url(1))
        await http.get(server.detail_url(server.catalogue.by_serial(0).slug))
        head = await http.head(server.book_list_url(2))
    stats = server.stats
    assert (stats.book_lists, stats.book_details) == (4, 1)
    assert (stats.list_pages, stats.details) == (1, 1)
    assert (stats.requests, stats.not_found, stats.internal_errors) == (7, 1, 0)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == LATIN1_HTML


async def test_faults_apply_to_bookshop_pages(nursery: trio.Nursery) -> None:
    server = await start(nursery, faults=FaultConfig(rate_503=1.0, max_faults_per_url=1))
    slug = server.bookshop.page(1)[0].slug
    async with client() as http:
        root = await http.get(server.bookshop_url)
        first = await http.get(server.book_list_url(1))  # the same page: its one fault is spent
        second = await http.get(server.book_list_url(2))
        detail = await http.get(server.book_url(slug))
        again = await http.get(f"{server.bookshop_url}item/{slug}")  # no slash, the same page
        missing = await http.get(server.book_list_url(8))
    assert (root.status_code, first.status_code) == (503, 200)
    assert (second.status_code, detail.status_code, again.status_code) == (503, 503, 200)
    assert root.headers["content-type"] == LATIN1_HTML
    assert missing.status_code == 404
    assert server.stats.faults["503"] == 3


async def test_a_malformed_bookshop_page_has_no_books_and_no_pager(nursery: trio.Nursery) -> None:
    server = await start(nursery, faults=FaultConfig(rate_malformed=1.0))
    async with client() as http:
        listing = await http.get(server.book_list_url(2))
        detail = await http.get(server.book_url(server.bookshop.page(1)[0].slug))
    assert listing.status_code == 200 and detail.status_code == 200
    assert b"<header>" in listing.content
    assert b'class="book' not in listing.content and b"pager" not in listing.content
    assert b"<title>" in detail.content and b"<h1>" not in detail.content


async def test_the_server_command_serves_the_bookshop_of_the_given_size() -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_crawl.demo.server", "--port", "0", "--books", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        received = b""
        with trio.fail_after(20):
            while received.count(b"\n") < 2:
                chunk = await process.stdout.receive_some(1)
                assert chunk, "the server exited before announcing itself"
                received += chunk
        lines = received.decode().splitlines()
        assert lines[0].startswith("serving demo catalogue at http://127.0.0.1:")
        assert lines[1].startswith("serving demo bookshop at http://127.0.0.1:")
        assert lines[1].endswith("/books/ (12 books, 2 pages)")
        bookshop_url = lines[1].split(" at ", 1)[1].split(" ", 1)[0]
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            response = await http.get(bookshop_url + "?page=2")
        assert response.status_code == 200
        assert response.content.count(b'<li class="book">') == 2
    finally:
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            await process.wait()
    assert process.returncode == 0


def test_serve_demo_takes_a_books_option_of_at_least_one() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve-demo"]).books == 47
    assert parser.parse_args(["serve-demo", "--books", "12"]).books == 12
    with pytest.raises(UsageError, match="--books: '0' must be at least 1"):
        parser.parse_args(["serve-demo", "--books", "0"])
