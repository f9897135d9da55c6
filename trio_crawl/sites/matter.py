"""The CSA-IoT Matter certified-product catalogue: its URLs and how to read its pages (DESIGN §6).

Parsing is pure (no I/O). Selectors are written in CSS, translated to XPath once at import and
kept as module constants: a compiled `XPath` never changes after construction, so sharing one
across catalogues (and threads — lxml locks around each evaluation) is safe.

Structural surprises raise `StageError(parse_error)`; data-quality problems (an empty model, a
missing manufacturer) are left for the validation stage, so one odd card never costs a whole list
page. The one exception is a Vendor/Product ID that is present but not a number: storing None
there would hide the problem, so it is a parse error naming the field and the value.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urljoin

from lxml import etree
from lxml.cssselect import CSSSelector

from ..engine.results import ErrorKind, StageError
from . import matter_rules
from .html import elements as _elements
from .html import text as _text
from .protocol import Ordering
from .records import ListEntry, ListPage, Product, ProductDetail, ProductRef
from .response import Response

__all__ = ["MatterCatalogue"]

_QUERY: Final = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049"
    "&p_certificate=&p_family=&p_firmware_ver="
)
_PROGRAM_TYPE: Final = "Matter"


def _css(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


# Each selector call scans the whole document (~5-40 µs, mostly class-token tests), so a page
# gets only two: the cards and the pagination on list pages, the headings and the rows on detail
# pages (`_FEEDS` runs only to word the error for a page without cards). Below those, walking
# an element's few children in Python is several times cheaper than another selector call.
#
# Cards are *descendants* of the feed (DESIGN §6: the live site wraps them in `div.inner`; an
# older template has them as direct children; a newer one serves them from a block). One
# selector names all three, and lxml's XPath union yields each card once, in document order.
_FEEDS: Final = _css("div.post-feed, .wp-block-crown-blocks-product-index")
_CARDS: Final = _css(
    "div.post-feed article.product.type-product,"
    " .wp-block-crown-blocks-product-index article.product"
)
_DETAIL_LINK: Final = "/csa_product/"
_PAGINATION: Final = _css("a.page-numbers, span.page-numbers.current")
_DETAIL_HEADINGS: Final = _css("h1.entry-title, p.entry-company, h6.entry-category")
_DETAIL_ROWS: Final = _css("div.entry-product-details li.item, table.product-certificates-table tr")

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
        root = _document(html, url)
        current: int | None = None
        highest: int | None = None
        for element in _elements(_PAGINATION(root)):
            number = _page_number(element)
            if number is None:
                continue
            if current is None and element.tag == "span":
                current = number
            highest = number if highest is None else max(highest, number)
        cards = _elements(_CARDS(root))
        if not cards:
            # Past the end the site shows another page *with* cards (DESIGN §6), so a page
            # without readable cards is never the end of the catalogue: the layout changed,
            # or this copy of the page is damaged. Either way it must not be believed.
            if highest is not None:
                shape = "pagination but no product cards"
            elif _FEEDS(root):
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
        root = _document(html, url)
        headings: dict[str, str | None] = {}
        for element in _elements(_DETAIL_HEADINGS(root)):
            tag = element.tag
            if tag in headings or (tag != "h1" and _in_feed(element)):
                # Later copies, and the cards of a "related products" feed, which reuse the
                # detail page's classes.
                continue
            headings[tag] = _text(element) or None
        list_fields: dict[str, str] = {}
        table_fields: dict[str, str] = {}
        rows = 0
        for element in _elements(_DETAIL_ROWS(root)):
            row = _list_row(element) if element.tag == "li" else _table_row(element)
            if row is None:
                continue
            rows += 1
            label, value = row
            field = _FIELD_BY_LABEL.get(_LABEL_NOISE.sub("", label).lower())
            fields = list_fields if element.tag == "li" else table_fields
            if field is not None and value and field not in fields:
                fields[field] = value
        if "h1" not in headings and not rows:
            raise StageError(
                ErrorKind.parse_error,
                f"{url}: not a product page (no h1.entry-title and no detail rows)",
            )
        # A field given in both places keeps its list value; the table only fills gaps.
        fields = table_fields | list_fields
        get = fields.get
        return ProductDetail(
            url=url,
            model=headings.get("h1"),
            manufacturer=headings.get("p"),
            device_type=headings.get("h6"),
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


def _document(html: bytes | str, url: str) -> etree._Element:
    if isinstance(html, bytes):
        # The site serves UTF-8; a stray bad byte should cost one character, not the page.
        html = html.decode("utf-8", errors="replace")
    try:
        root = etree.HTML(html)
    except ValueError:
        # lxml refuses str input that carries an XML encoding declaration; hand it bytes.
        root = etree.HTML(html.encode("utf-8"), etree.HTMLParser(encoding="utf-8"))
    if root is None:
        raise StageError(ErrorKind.parse_error, f"{url}: empty document")
    return root


def _classes(element: etree._Element) -> list[str]:
    return (element.get("class") or "").split()


def _in_feed(element: etree._Element) -> bool:
    return any(
        ancestor.tag == "div" and "post-feed" in _classes(ancestor)
        for ancestor in element.iterancestors()
    )


def _page_number(element: etree._Element) -> int | None:
    match = _PAGE_NUMBER.fullmatch(_text(element))
    return int(_THOUSANDS.sub("", match[1])) if match else None


def _list_entry(article: etree._Element, position: int, page_url: str) -> ListEntry:
    """One product card: the first `a[href]` to a `/csa_product/` page, `p.entry-company`,
    `h3.entry-title` and `p.entry-certificate-id` inside `article`."""
    href = company = model = certificate = None
    for element in article.iter("a", "p", "h3"):
        if element.tag == "a":
            link = element.get("href")
            if href is None and link is not None and _DETAIL_LINK in link:
                href = link
        elif element.tag == "h3":
            if model is None and "entry-title" in _classes(element):
                model = _text(element)
        elif company is None and "entry-company" in _classes(element):
            company = _text(element)
        elif certificate is None and "entry-certificate-id" in _classes(element):
            certificate = _CERTIFICATE_PREFIX.sub("", _text(element), count=1)
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


def _list_row(item: etree._Element) -> tuple[str, str] | None:
    """`li.item` > `span.label` + `span.value`."""
    label = value = None
    for span in item.iter("span"):
        classes = _classes(span)
        if label is None and "label" in classes:
            label = _text(span)
        elif value is None and "value" in classes:
            value = _text(span)
    return None if label is None else (label, value or "")


def _table_row(row: etree._Element) -> tuple[str, str] | None:
    """A certificates-table row: label cell then value cell (th/td or td/td)."""
    cells = [cell for cell in row if cell.tag in ("th", "td")]
    return (_text(cells[0]), _text(cells[1])) if len(cells) >= 2 else None


def _parse_id(field: str, value: str | None, url: str) -> int | None:
    """A Vendor/Product ID: hex with a ``0x`` prefix, or decimal; None only when absent."""
    if value is None:
        return None
    if _HEX_ID.fullmatch(value):
        return int(value, 16)
    if _DECIMAL_ID.fullmatch(value):
        return int(value, 10)
    raise StageError(ErrorKind.parse_error, f"{url}: {field} is not a number: {value!r}")
