"""The bookshop demo's data: deterministic books in Latin-1 text, listed oldest first.

The second demo catalogue exists to exercise what the Matter imitation cannot: a site that
appends (new books go after the last one, so only the last page changes and then a new page
appears) and that speaks ISO-8859-1, so a crawler decoding as UTF-8 gets its accented titles
wrong. Its pages are rendered by `bookshop_markup`.

Every book comes from one `random.Random(seed)` stream, drawn in catalogue order, and
`publish()` keeps drawing from it: ``DemoBookshop(47, s)`` followed by ``publish(5)`` holds
exactly the books of ``DemoBookshop(52, s)``. Books are stored (a bookshop is small; 100k books
are a few tens of MB), which keeps slug lookups a dict access.

Choices the site's specification leaves open:

- Every text (titles, authors, descriptions) is Latin-1 only and avoids U+0080..U+009F, so
  Python's ``latin-1`` codec and a browser's ``windows-1252`` (what WHATWG decoding makes of the
  label ``iso-8859-1``) read the same characters from every byte the server sends.
- Titles may contain ``&`` and authors an apostrophe (``O'Brien``), so escaping is exercised.
- The slug is the title folded to ASCII (``ß`` → ``ss``, ``ø`` → ``o``, accents dropped), then
  ``-N`` where N is the book's number counted from 1 in oldest-first order.
- `DemoBook.stock` is the number of copies; 0 means out of stock (about 20 % of books).
- ISBNs are unique within a shop; `published` is a `datetime.date` (the page shows it as ISO).
- An empty shop still has a page 1 (``last_page`` is at least 1), which shows no books.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Final

import attrs

PER_PAGE: Final = 10

_FIRST_DAY: Final = date(1950, 1, 1)
_LAST_DAY: Final = date(2025, 12, 31)

_TITLE_WORDS: Final = (
    "Garden", "River", "Night", "Winter", "Letters", "Silence", "Harbour", "Orchard", "Salt",
    "Lantern", "Journey", "Shadows", "Mirror", "Island", "Summer", "Stones", "Bridge", "Hunger",
    "Café", "Mañana", "Über", "Fjørd", "Straße", "Déjà", "Vu", "Señora", "Château", "Noël",
    "Pâtisserie", "Ålesund", "Glück", "Niño", "Crème", "Brûlée", "Façade", "Lügen", "Søster",
    "Müde", "Rêve", "Élan", "Peña", "Naïve", "Fräulein", "Dänemark", "Corazón", "Kærlighed",
)  # fmt: skip
_FIRST_NAMES: Final = (
    "Anna", "José", "Zoë", "Søren", "Françoise", "Jürgen", "Inés", "Björn", "Hélène", "Seán",
    "Åsa", "Ramón", "Maël", "Renée", "Tomás", "Grete", "Oliver", "Margaret", "David", "Lucía",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Müller", "Núñez", "Ødegaard", "Groß", "O'Brien", "García", "Løvstad", "Dupré", "Åberg",
    "Fontaine", "Ibáñez", "Schröder", "Carré", "Holm", "Smith", "Brontë", "Lefèvre", "Peña",
)  # fmt: skip
_ADJECTIVES: Final = (
    "tender", "unflinching", "bittersweet", "luminous", "wry", "haunting", "brisk", "lyrical",
)  # fmt: skip
_TOPICS: Final = (
    "a café owner in Lyon", "three sisters on a Danish island", "a señora's last summer",
    "the winter of 1963", "a pâtisserie that never closes", "love, grief and crème brûlée",
    "a journey across the fjørds", "an old château and its débris", "growing up in Málaga",
    "the Straße where nothing happens", "a naïve detective", "two brothers and a façade",
)  # fmt: skip
_FORMS: Final = ("novel", "memoir", "story", "fable", "portrait", "chronicle")
_PRAISE: Final = (
    "magnifique", "großartig", "un éxito", "fantástico", "vidunderlig", "très émouvant",
)  # fmt: skip

# Letters NFKD does not decompose into ASCII; everything else loses its accents.
_ASCII_FOLD: Final = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ð": "d", "Ð": "D", "þ": "th"}
)


def isbn13_check_digit(first12: str) -> int:
    """The ISBN-13 check digit for its first 12 digits (weights 1, 3, 1, 3, …)."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError(f"need 12 digits, got {first12!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def book_slug(title: str, number: int) -> str:
    """The URL slug of book `number` (1 = oldest): the title folded to ASCII, then ``-number``."""
    folded = unicodedata.normalize("NFKD", title.translate(_ASCII_FOLD))
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return f"{words or 'book'}-{number}"


def format_price(pence: int) -> str:
    """A price as the shop prints it: ``£12.34``."""
    return f"£{pence // 100}.{pence % 100:02d}"


@attrs.frozen
class DemoBook:
    """One book, with the values its list card and detail page show.

    `index` is its place in oldest-first order (0 = the first book added); `stock` is the
    number of copies, 0 when out of stock.
    """

    index: int
    slug: str
    title: str
    author: str
    isbn: str
    price_pence: int
    stock: int
    pages: int
    published: date
    description: str

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def price_text(self) -> str:
        """``£12.34``."""
        return format_price(self.price_pence)

    @property
    def availability_text(self) -> str:
        """The detail page's availability: ``In stock (7 available)`` or ``Out of stock``."""
        return f"In stock ({self.stock} available)" if self.in_stock else "Out of stock"


class DemoBookshop:
    """A deterministic bookshop of `books` books, listed oldest first, 10 to a page."""

    per_page: Final = PER_PAGE

    def __init__(self, books: int = 47, seed: int = 0) -> None:
        if books < 0:
            raise ValueError(f"books must not be negative, got {books!r}")
        self._seed = seed
        self._rng = random.Random(seed)
        self._books: list[DemoBook] = []
        self._by_slug: dict[str, DemoBook] = {}
        self._isbns: set[str] = set()
        self.publish(books)

    def __repr__(self) -> str:
        return f"DemoBookshop(books={self.total}, seed={self._seed})"

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def total(self) -> int:
        """How many books the shop holds now."""
        return len(self._books)

    @property
    def last_page(self) -> int:
        """The number of list pages (at least 1: an empty shop shows an empty page 1)."""
        return max(1, -(-self.total // PER_PAGE))

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[DemoBook]:
        """Every book, oldest first (the order of the list pages)."""
        return iter(tuple(self._books))

    def page(self, n: int) -> list[DemoBook]:
        """The books list page `n` (1 = oldest) shows, in page order."""
        if not 1 <= n <= self.last_page:
            raise IndexError(f"page {n} outside 1..{self.last_page}")
        return self._books[(n - 1) * PER_PAGE : n * PER_PAGE]

    def find(self, slug: str) -> DemoBook | None:
        """The book with this slug, or None."""
        return self._by_slug.get(slug)

    def book(self, slug: str) -> DemoBook:
        """The book with this slug; `KeyError` if there is none."""
        return self._by_slug[slug]

    def publish(self, count: int = 1) -> list[DemoBook]:
        """Append `count` new books after the last one; returns them, oldest first.

        Existing books keep their pages and positions: the last page fills, then new pages
        appear.
        """
        if count < 0:
            raise ValueError(f"count must not be negative, got {count!r}")
        return [self._make_book(len(self._books)) for _ in range(count)]

    def expected_position(self, slug: str) -> tuple[int, int]:
        """(page_id, index_in_page): ``divmod(index in oldest-first order, 10)``."""
        return divmod(self.book(slug).index, PER_PAGE)

    def _make_book(self, index: int) -> DemoBook:
        rng = self._rng
        words = rng.sample(_TITLE_WORDS, rng.randint(2, 5))
        if len(words) >= 3 and rng.random() < 0.15:
            words[-2:] = [f"{words[-2]} & {words[-1]}"]
        title = " ".join(words)
        if rng.random() < 0.3:
            title = "The " + title
        author = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        isbn = self._new_isbn(rng)
        stock = 0 if rng.random() < 0.2 else rng.randint(1, 20)
        published = _FIRST_DAY + timedelta(days=rng.randrange((_LAST_DAY - _FIRST_DAY).days + 1))
        description = (
            f"A {rng.choice(_ADJECTIVES)} {rng.choice(_FORMS)} about {rng.choice(_TOPICS)}. "
            f"Critics called it «{rng.choice(_PRAISE)}»."
        )
        book = DemoBook(
            index=index,
            slug=book_slug(title, index + 1),
            title=title,
            author=author,
            isbn=isbn,
            price_pence=rng.randint(199, 4999),
            stock=stock,
            pages=rng.randint(48, 1200),
            published=published,
            description=description,
        )
        self._books.append(book)
        self._by_slug[book.slug] = book
        return book

    def _new_isbn(self, rng: random.Random) -> str:
        while True:
            first12 = rng.choice(("978", "979")) + f"{rng.randrange(10**9):09d}"
            isbn = first12 + str(isbn13_check_digit(first12))
            if isbn not in self._isbns:
                self._isbns.add(isbn)
                return isbn
