"""The Matter parser as it shipped on lxml + cssselect, kept only to measure against.

`trio_crawl.sites.matter` moved to selectolax's Lexbor backend; this is the lxml
`parse_list`/`parse_detail` it replaced (same selectors, same field extraction, same errors),
so `html_parsers.py` can time the old approach honestly and check that both read the
benchmark's pages the same. The URL, regex and ID helpers are the shipped module's (they did
not change); only the tree-walking half is copied here.
"""

from __future__ import annotations

from urllib.parse import urljoin

from lxml import etree
from lxml.cssselect import CSSSelector

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites.html import elements as _elements
from trio_crawl.sites.html import text as _text
from trio_crawl.sites.matter import (
    _CERTIFICATE_PREFIX,
    _DETAIL_LINK,
    _FIELD_BY_LABEL,
    _LABEL_NOISE,
    _PAGE_NUMBER,
    _PROGRAM_TYPE,
    _THOUSANDS,
    MatterCatalogue,
    _html_and_url,
    _parse_id,
)
from trio_crawl.sites.records import ListEntry, ListPage, ProductDetail
from trio_crawl.sites.response import Response


def _css(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


_FEEDS = _css("div.post-feed, .wp-block-crown-blocks-product-index")
_CARDS = _css(
    "div.post-feed article.product.type-product,"
    " .wp-block-crown-blocks-product-index article.product"
)
_PAGINATION = _css("a.page-numbers, span.page-numbers.current")
_DETAIL_HEADINGS = _css("h1.entry-title, p.entry-company, h6.entry-category")
_DETAIL_ROWS = _css("div.entry-product-details li.item, table.product-certificates-table tr")


class LxmlMatterCatalogue(MatterCatalogue):
    """`MatterCatalogue` with the old lxml parsing; everything else is inherited."""

    __slots__ = ()

    def parse_list(self, response: Response | bytes | str, url: str = "") -> ListPage:
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
        html, url = _html_and_url(response, url)
        root = _document(html, url)
        headings: dict[str, str | None] = {}
        for element in _elements(_DETAIL_HEADINGS(root)):
            tag = element.tag
            if tag in headings or (tag != "h1" and _in_feed(element)):
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
        get = (table_fields | list_fields).get
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


def _document(html: bytes | str, url: str) -> etree._Element:
    if isinstance(html, bytes):
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
        url=href if href.startswith(("https://", "http://")) else urljoin(page_url, href),
        manufacturer=company or "",
        model=model or "",
        certificate_id=certificate or "",
    )


def _list_row(item: etree._Element) -> tuple[str, str] | None:
    label = value = None
    for span in item.iter("span"):
        classes = _classes(span)
        if label is None and "label" in classes:
            label = _text(span)
        elif value is None and "value" in classes:
            value = _text(span)
    return None if label is None else (label, value or "")


def _table_row(row: etree._Element) -> tuple[str, str] | None:
    cells = [cell for cell in row if cell.tag in ("th", "td")]
    return (_text(cells[0]), _text(cells[1])) if len(cells) >= 2 else None
