"""The CSA-IoT Matter certified-product catalogue: its URLs and how to read its pages
(docs/architecture.md §6).

Parsing is pure (no I/O) and runs on selectolax's Lexbor backend (an HTML5 parser in C), which
replaced lxml + cssselect because parsing was the largest share of the crawl's CPU. The lxml
version is kept in `benchmarks/matter_lxml.py`; `benchmarks/html_parsers.py` measures both and
checks they agree page for page. The reading above the tree is shaped by what it costs: one
selector call a page, tag ids instead of tag names, `text_lexbor`, and the plain-row regex (see
`_fields`). The figures, with the commands that measure them again:
``benchmarks/results/code_figures.md``. Selectors are CSS strings kept as module constants;
`lexbor` holds how a tree is read (and what it keeps of lxml's readings).

Structural surprises raise `StageError(parse_error)`; data-quality problems (an empty model, a
missing manufacturer) are left for the validation stage, so one odd card never costs a whole list
page. The one exception is a Vendor/Product ID that is present but not a number: storing None
there would hide the problem, so it is a parse error naming the field and the value.
"""

from __future__ import annotations

import functools
import re
from typing import Final
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..errors import ErrorKind, StageError
from . import lexbor, matter_rules
from .protocol import Ordering
from .records import ListEntry, ListPage, Product, ProductDetail, ProductRef
from .response import Response

__all__ = ["MatterCatalogue"]

_QUERY: Final = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049"
    "&p_certificate=&p_family=&p_firmware_ver="
)
_PROGRAM_TYPE: Final = "Matter"


# Each selector call has a fixed cost whatever it asks for: Lexbor sets up the CSS parser's
# memory and walks every node of the document. So a page gets one call: the cards and the
# pagination on a list page, the headings, the rows and any feed on a detail page (`_FEEDS`
# runs only to word the error for a page without cards). Below those, walking an element's few
# descendants in Python is cheaper than another selector call.
#
# Lexbor reports the matches of a selector list in document order, and a node once for every
# selector of the list that it matches, so repeats can only come from alternatives naming the
# same tag. Of those only the two card selectors overlap (an article inside both feeds), and
# `_list_parts` drops their repeats; elsewhere each alternative names a tag of its own.
#
# Cards are *descendants* of the feed (the live site wraps them in `div.inner`; an older
# template has them as direct children; a newer one serves them from a block).
_FEEDS: Final = lexbor.css("div.post-feed, .wp-block-crown-blocks-product-index")
_CARDS: Final = (
    "div.post-feed article.product.type-product,"
    " .wp-block-crown-blocks-product-index article.product"
)
_PAGINATION: Final = "a.page-numbers, span.page-numbers.current"
_LIST_PAGE: Final = lexbor.css(f"{_CARDS}, {_PAGINATION}")
_DETAIL_LINK: Final = "/csa_product/"


def _tag_id(name: str) -> int:
    """Lexbor's id for the HTML tag `name`, the same in every document and namespace.

    Reading an id costs ~360 instructions, `node.tag` ~930 (it decodes a new string each
    time), and the walks below read one for every descendant of every row and card.
    """
    return int(LexborHTMLParser("").create_node(name).tag_id)


_A, _ARTICLE, _DIV, _H1, _H3, _LI, _P, _SPAN, _TD, _TH = map(
    _tag_id, ("a", "article", "div", "h1", "h3", "li", "p", "span", "td", "th")
)
_HEADINGS: Final = {_H1: "h1", _P: "p", _tag_id("h6"): "h6"}
# The headings, the rows (`li` and `tr`), and every `div` that might be a "related products"
# feed: one whose class attribute holds "post-feed" anywhere is a superset of those holding the
# token (`_in_feed` decides), so a page without one has no heading inside a feed.
_DETAIL_PAGE: Final = lexbor.css(
    "h1.entry-title, p.entry-company, h6.entry-category,"
    " div.entry-product-details li.item, table.product-certificates-table tr,"
    ' div[class*="post-feed"]'
)

# "3", "1,234", and WordPress's screen-reader variant "Page 3"; "Next" and "…" do not match.
_PAGE_NUMBER: Final = re.compile(r"(?:page )?(\d{1,3}(?:[,.' ]\d{3})+|\d+)", re.ASCII | re.I)
_THOUSANDS: Final = re.compile(r"[,.' ]")
_CERTIFICATE_PREFIX: Final = re.compile(r"\Acertificate\s*id\s*:?\s*", re.I)
_HEX_ID: Final = re.compile(r"0x[0-9a-f]+", re.ASCII | re.I)
_DECIMAL_ID: Final = re.compile(r"[0-9]+", re.ASCII)
_LABEL_NOISE: Final = re.compile(r"[\s:]+")

# Label (lower case, whitespace and colons removed) → ProductDetail field.
_FIELD_BY_LABEL: Final[dict[str, str]] = {
    "certificateid": "certificate_id",
    "vendorid": "vid",
    "productid": "pid",
    "familyid": "family_id",
    "familysku": "family_sku",
    "familyvariantsku": "family_variant_sku",
    "firmwareversion": "firmware_version",
    "hardwareversion": "hardware_version",
    "softwareversion": "software_version",
    "certificationdate": "certification_date",
    "tis/trptested": "tis_trp_tested",
    "specificationversion": "specification_version",
    "transportinterface": "transport_interface",
    "primarydevicetypeid": "primary_device_type_id",
}


class MatterCatalogue:
    """The Matter catalogue at `base_url` (e.g. ``https://csa-iot.org``); implements `Site`."""

    __slots__ = ("_base_url",)

    name = "matter"
    """The table its products are kept in, as any site's records are."""
    record_type = ProductDetail

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"MatterCatalogue(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def per_page(self) -> int:
        return 12

    @property
    def ordering(self) -> Ordering:
        return Ordering.newest_first

    def list_url(self, page: int) -> str:
        """The URL of list page `page` (1 is the newest)."""
        if page < 1:
            raise ValueError(f"list pages are numbered from 1, not {page}")
        if page == 1:
            return f"{self._base_url}/csa-iot_products/?{_QUERY}"
        return f"{self._base_url}/csa-iot_products/page/{page}/?{_QUERY}"

    def detail_url(self, slug: str) -> str:
        """The URL of the detail page of the product called `slug`."""
        slug = slug.strip("/")
        if not slug:
            raise ValueError("a product slug must not be empty")
        return f"{self._base_url}/csa_product/{slug}/"

    def parse_list(self, response: Response | bytes | str, url: str = "") -> ListPage:
        """Read the product cards and the pagination of a list page: a `Response`, or its
        HTML and the `url` it was fetched from."""
        html, url = _html_and_url(response, url)
        tree = lexbor.document(html, url)
        cards, pagination = _list_parts(tree)
        current, highest = _pagination(pagination)
        if not cards:
            # Past the end the site shows another page *with* cards, so a page
            # without readable cards is never the end of the catalogue: the layout changed,
            # or this copy of the page is damaged. Either way it must not be believed.
            if highest is not None:
                shape = "pagination but no product cards"
            elif lexbor.find(tree, _FEEDS):
                shape = "a feed but no product cards"
            else:
                shape = "no product feed and no pagination"
            raise StageError(ErrorKind.parse_error, f"layout not recognised: {url} ({shape})")
        entries: list[ListEntry] = []
        seen: set[str] = set()
        for position, card in enumerate(cards, start=1):
            entry = _list_entry(card, position, url)
            if entry.url not in seen:
                seen.add(entry.url)
                entries.append(entry)
        return ListPage(current=current, highest=highest, entries=tuple(entries))

    def parse_detail(self, response: Response | bytes | str, url: str = "") -> ProductDetail:
        """Read everything a detail page (a `Response`, or its HTML and the `url` it was
        fetched from) says about its product."""
        html, url = _html_and_url(response, url)
        tree = lexbor.document(html, url)
        headings, rows, feed = _detail_parts(tree)
        texts = _headings(headings, feed)
        fields, count = _fields(rows)
        if "h1" not in texts and not count:
            raise StageError(
                ErrorKind.parse_error,
                f"{url}: not a product page (no h1.entry-title and no detail rows)",
            )
        get = fields.get
        return ProductDetail(
            url=url,
            model=texts.get("h1"),
            manufacturer=texts.get("p"),
            device_type=texts.get("h6"),
            certificate_id=get("certificate_id"),
            certification_date=get("certification_date"),
            software_version=get("software_version"),
            hardware_version=get("hardware_version"),
            firmware_version=get("firmware_version"),
            specification_version=get("specification_version"),
            vid=_parse_id("vid", get("vid"), url),
            pid=_parse_id("pid", get("pid"), url),
            family_sku=get("family_sku"),
            family_variant_sku=get("family_variant_sku"),
            family_id=get("family_id"),
            tis_trp_tested=get("tis_trp_tested"),
            transport_interface=get("transport_interface"),
            primary_device_type_id=get("primary_device_type_id"),
            program_type=_PROGRAM_TYPE,
        )

    def ref(self, entry: ListEntry, page_id: int, index_in_page: int, id: str) -> ProductRef:
        return ProductRef(
            entry.url,
            entry.manufacturer,
            entry.model,
            entry.certificate_id,
            page_id,
            index_in_page,
            id,
        )

    def item(self, ref: ProductRef, record: ProductDetail) -> Product:
        return Product(ref, record)

    def problems(self, item: Product) -> list[str]:
        return matter_rules.problems(item)


def _html_and_url(response: Response | bytes | str, url: str) -> tuple[bytes | str, str]:
    if isinstance(response, Response):
        # The header's charset decides; the site serves UTF-8, which is also the default.
        return response.text, response.url
    return response, url


def _list_parts(tree: LexborHTMLParser) -> tuple[list[LexborNode], list[LexborNode]]:
    """The product cards, each once, and the pagination elements of a list page.

    Nodes are told apart by `mem_id` (the node's address): `LexborNode.__eq__` compares
    serialised HTML, so two identical cards would be "equal".
    """
    cards: list[LexborNode] = []
    pagination: list[LexborNode] = []
    seen: set[int] = set()
    for node in lexbor.find(tree, _LIST_PAGE):
        if node.tag_id != _ARTICLE:
            pagination.append(node)
        elif node.mem_id not in seen:
            seen.add(node.mem_id)
            cards.append(node)
    return cards, pagination


def _pagination(elements: list[LexborNode]) -> tuple[int | None, int | None]:
    """The current page (the first numbered `span`) and the highest number shown."""
    current: int | None = None
    highest: int | None = None
    for element in elements:
        number = _page_number(element)
        if number is None:
            continue
        if current is None and element.tag_id == _SPAN:
            current = number
        highest = number if highest is None else max(highest, number)
    return current, highest


_Row = tuple[bool, LexborNode]
"""A detail row: whether it is a list item (else a table row), and its element."""


def _detail_parts(
    tree: LexborHTMLParser,
) -> tuple[list[tuple[str, LexborNode]], list[_Row], bool]:
    """The headings (with their tags) and the rows of a detail page, in document order, and
    whether it has a `div.post-feed` at all."""
    headings: list[tuple[str, LexborNode]] = []
    rows: list[_Row] = []
    feed = False
    for node in lexbor.find(tree, _DETAIL_PAGE):
        tag = node.tag_id
        if tag in _HEADINGS:
            headings.append((_HEADINGS[tag], node))
        elif tag == _DIV:
            feed = feed or "post-feed" in lexbor.classes(node)
        else:
            rows.append((tag == _LI, node))
    return headings, rows, feed


def _headings(headings: list[tuple[str, LexborNode]], feed: bool) -> dict[str, str | None]:
    """Tag → text of the first heading of each tag. Later copies are skipped, and so are the
    cards of a "related products" feed, which reuse the detail page's classes (only the h1 is
    never looked for in a feed); without a feed on the page there is nothing to look up."""
    texts: dict[str, str | None] = {}
    for tag, element in headings:
        if tag in texts or (feed and tag != "h1" and _in_feed(element)):
            continue
        texts[tag] = lexbor.text(element) or None
    return texts


def _fields(rows: list[_Row]) -> tuple[dict[str, str], int]:
    """Field → value of the rows a field is known for, and how many rows had a label.

    The first non-empty value of a field wins; a field given in both places keeps its list
    value, the table only fills gaps. A value's text is only read for a field still open.
    """
    list_fields: dict[str, str] = {}
    table_fields: dict[str, str] = {}
    count = 0
    for is_item, element in rows:
        plain = _PLAIN_ROW.fullmatch(element.html or "") if is_item else None
        if plain is not None:
            count += 1
            field = _field(plain[1])
            if field is not None and field not in list_fields:
                value = " ".join(plain[2].split())
                if value:
                    list_fields[field] = value
            continue
        row = _list_row(element) if is_item else _table_row(element)
        if row is None:
            continue
        count += 1
        label, cell = row
        field = _field(label.text_lexbor())
        fields = list_fields if is_item else table_fields
        if field is not None and field not in fields:
            value = "" if cell is None else lexbor.text(cell)
            if value:
                fields[field] = value
    return table_fields | list_fields, count


# The live site's row as Lexbor serialises it. When a row is exactly this, its two spans are
# the label and the value and the groups are their raw texts: the serialiser writes `&`, `<`,
# `>` and U+00A0 in text as entities, so a group without `&` or `<` is the text itself.
# Serialising and matching costs about a third less than walking the row's nodes and reading
# their classes and texts one by one; any other row goes that way.
_PLAIN_ROW: Final = re.compile(
    r'<li class="item"><span class="label">([^<&]*)</span>'
    r'<span class="value">([^<&]*)</span></li>'
)


@functools.lru_cache(maxsize=1024)
def _field(label: str) -> str | None:
    """The field a row's label names, or None; `label` is its raw text, as the whitespace
    `lexbor.text` would collapse goes anyway. Kept per label: a site spells its labels a few ways,
    and the regex costs as much as the rest of a row."""
    return _FIELD_BY_LABEL.get(_LABEL_NOISE.sub("", label).lower())


def _in_feed(node: LexborNode) -> bool:
    ancestor = node.parent
    while ancestor is not None:
        if ancestor.tag_id == _DIV and "post-feed" in lexbor.classes(ancestor):
            return True
        ancestor = ancestor.parent
    return False


def _page_number(element: LexborNode) -> int | None:
    match = _PAGE_NUMBER.fullmatch(lexbor.text(element))
    return int(_THOUSANDS.sub("", match[1])) if match else None


def _list_entry(article: LexborNode, position: int, page_url: str) -> ListEntry:
    """One product card: the first `a[href]` to a `/csa_product/` page, `p.entry-company`,
    `h3.entry-title` and `p.entry-certificate-id` inside `article` (at any depth)."""
    href = company = model = certificate = None
    for element in article.traverse():
        tag = element.tag_id
        if tag == _A:
            if href is None:
                link = lexbor.attribute(element, "href")
                if link is not None and _DETAIL_LINK in link:
                    href = link
        elif tag == _H3:
            if model is None and "entry-title" in lexbor.classes(element):
                model = lexbor.text(element)
        elif tag != _P:
            continue
        elif company is None and "entry-company" in lexbor.classes(element):
            company = lexbor.text(element)
        elif certificate is None and "entry-certificate-id" in lexbor.classes(element):
            certificate = _CERTIFICATE_PREFIX.sub("", lexbor.text(element), count=1)
    href = href.strip() if href else ""
    if not href:
        raise StageError(
            ErrorKind.parse_error,
            f"{page_url}: product card #{position} has no link to a {_DETAIL_LINK} page",
        )
    return ListEntry(
        # urljoin costs microseconds; the site's links are usually absolute already.
        url=href if href.startswith(("https://", "http://")) else urljoin(page_url, href),
        manufacturer=company or "",
        model=model or "",
        certificate_id=certificate or "",
    )


def _list_row(item: LexborNode) -> tuple[LexborNode, LexborNode | None] | None:
    """`li.item` > `span.label` + `span.value`: the first span inside `item` (at any depth)
    classed "label", and the first other one classed "value"."""
    label = value = None
    for span in item.traverse():
        if span.tag_id != _SPAN:
            continue
        classes = lexbor.classes(span)
        if label is None and "label" in classes:
            label = span
        elif value is None and "value" in classes:
            value = span
        if label is not None and value is not None:
            break  # no later span can change the row
    return None if label is None else (label, value)


def _table_row(row: LexborNode) -> tuple[LexborNode, LexborNode] | None:
    """A certificates-table row: label cell then value cell (th/td or td/td)."""
    cells = [cell for cell in row.iter() if cell.tag_id in (_TH, _TD)]
    return (cells[0], cells[1]) if len(cells) >= 2 else None


def _parse_id(field: str, value: str | None, url: str) -> int | None:
    """A Vendor/Product ID: hex with a ``0x`` prefix, or decimal; None only when absent."""
    if value is None:
        return None
    if _HEX_ID.fullmatch(value):
        return int(value, 16)
    if _DECIMAL_ID.fullmatch(value):
        return int(value, 10)
    raise StageError(ErrorKind.parse_error, f"{url}: {field} is not a number: {value!r}")
