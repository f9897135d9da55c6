"""The demo catalogue's HTML, shaped like the live CSA-IoT WordPress site (docs/architecture.md §6).

Pure functions render one page to `str`; `renderer.Renderer` turns them into cached `bytes` for
one base URL, which is what the server and the static-site writer use. The markup keeps the live
site's noise that a careless parser trips over: a WordPress head, header and footer, a "latest
news" widget with its own `h3.entry-title` outside the product feed, `&#038;`-escaped pagination
links and `a.page-numbers` links whose text is not a number ("« Previous", "Next »").

The product cards come in the three layouts the live site is known to serve (`Markup`); the
default is the live nesting, `div.post-feed > div.inner > article > a > div.inner >
div.contents`, so the demo, the e2e tests and the benchmarks exercise what the site sends.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from html import escape
from typing import Final

from .catalogue import DemoCatalogue
from .products import DemoProduct

LIST_PATH: Final = "/csa-iot_products/"
DETAIL_PATH: Final = "/csa_product/"
#: The live site's query string for "Matter certified products" (kept on every list URL).
LIST_QUERY: Final = (
    "p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049&p_certificate=&p_family="
    "&p_firmware_ver="
)
CONTENT_TYPE: Final = "text/html; charset=utf-8"
ROBOTS_TXT: Final = b"User-agent: *\nDisallow: /wp-admin/\nAllow: /\n"


class Markup(enum.StrEnum):
    """How a list page lays out its product cards (docs/architecture.md §6)."""

    nested = "nested"
    """The live site: cards wrapped in `div.inner`, their texts in `div.inner > div.contents`."""
    block = "block"
    """The newer block template: cards under `.wp-block-crown-blocks-product-index`."""
    flat = "flat"
    """An older template: cards as direct children of `div.post-feed`."""


# Where the product feed opens and closes, by markup; a "malformed" page is cut at the opening.
FEED_OPEN: Final = {
    Markup.nested: '<div class="post-feed item-count-3">\n<div class="inner">\n',
    Markup.block: (
        '<div class="wp-block-crown-blocks-product-index alignwide">\n'
        '<div class="product-index-grid">\n'
    ),
    Markup.flat: '<div class="post-feed">\n',
}
_FEED_CLOSE: Final = {
    Markup.nested: "</div>\n</div>\n",
    Markup.block: "</div>\n</div>\n",
    Markup.flat: "</div>\n",
}


def list_url(base_url: str, page: int) -> str:
    """The URL of list page `page` (1 = newest), exactly as the live site spells it."""
    if page <= 1:
        return f"{base_url}{LIST_PATH}?{LIST_QUERY}"
    return f"{base_url}{LIST_PATH}page/{page}/?{LIST_QUERY}"


def detail_url(base_url: str, slug: str) -> str:
    """The URL of a product's detail page."""
    return f"{base_url}{DETAIL_PATH}{slug}/"


def pagination_items(current: int, last: int, end_size: int = 1, mid_size: int = 2) -> list[int]:
    """Page numbers WordPress' `paginate_links()` shows; 0 stands for a "…" gap.

    The same rule as WordPress: a number is shown if it is within `end_size` of either end or
    within `mid_size` of `current`; each run of hidden numbers becomes one gap.
    """
    # Only the shown numbers are visited, so a 100k-page catalogue costs no more than a small one.
    shown = sorted(
        n
        for n in {
            *range(1, end_size + 1),
            *range(current - mid_size, current + mid_size + 1),
            *range(last - end_size + 1, last + 1),
        }
        if 1 <= n <= last
    )
    items: list[int] = []
    for n in shown:
        if items and n > items[-1] + 1:
            items.append(0)
        items.append(n)
    if items and items[-1] < last:
        items.append(0)  # WordPress ends with a gap when the last page itself is hidden
    return items


def _href(url: str) -> str:
    # WordPress' esc_url() writes "&" as "&#038;" in pagination links.
    return escape(url, quote=True).replace("&amp;", "&#038;")


def render_pagination(base_url: str, current: int, last: int) -> str:
    """The `nav.pagination` block: previous/next links, numbers, gaps and the current page.

    Unlike WordPress (which prints nothing for a single page), a one-page catalogue still shows
    its current page, so that a crawler can always read `current`.
    """
    parts = [
        '<nav class="navigation pagination" aria-label="Products">\n'
        '<h2 class="screen-reader-text">Products navigation</h2>\n<div class="nav-links">'
    ]
    if current > 1:
        parts.append(
            f'<a class="prev page-numbers" href="{_href(list_url(base_url, current - 1))}">'
            "&laquo; Previous</a>"
        )
    for n in pagination_items(current, last):
        if n == 0:
            parts.append('<span class="page-numbers dots">&hellip;</span>')
        elif n == current:
            parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
        else:
            parts.append(f'<a class="page-numbers" href="{_href(list_url(base_url, n))}">{n}</a>')
    if current < last:
        parts.append(
            f'<a class="next page-numbers" href="{_href(list_url(base_url, current + 1))}">'
            "Next &raquo;</a>"
        )
    parts.append("</div>\n</nav>")
    return "\n".join(parts)


def _head(base_url: str, title: str, canonical: str, body_class: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - CSA-IOT</title>
<meta name="robots" content="index, follow, max-image-preview:large">
<link rel="canonical" href="{_href(canonical)}">
<meta property="og:locale" content="en_US">
<meta property="og:type" content="website">
<meta property="og:title" content="{escape(title)} - CSA-IOT">
<meta property="og:site_name" content="CSA-IOT">
<link rel="stylesheet" id="wp-block-library-css"
 href="{base_url}/wp-includes/css/dist/block-library/style.min.css?ver=6.5.5" media="all">
<link rel="stylesheet" id="csa-style-css"
 href="{base_url}/wp-content/themes/csa-iot/style.css?ver=2.4.0" media="all">
<script src="{base_url}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel="https://api.w.org/" href="{base_url}/wp-json/">
<link rel="icon" href="{base_url}/wp-content/uploads/2021/05/favicon-32x32.png" sizes="32x32">
<script type="application/ld+json" class="yoast-schema-graph">{{"@context":"https://schema.org","@graph":[{{"@type":"WebPage","url":"{_href(canonical)}","name":"{escape(title)}"}}]}}</script>
</head>
<body class="{body_class} wp-theme-csa-iot">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<div id="page" class="site">
<header id="masthead" class="site-header">
<div class="site-branding"><a href="{base_url}/" rel="home">
<img src="{base_url}/wp-content/uploads/2021/05/csa-logo.svg" alt="CSA-IOT" width="180" height="48">
</a></div>
<nav id="site-navigation" class="main-navigation" aria-label="Primary">
<ul id="primary-menu" class="menu">
<li class="menu-item menu-item-has-children"><a href="{base_url}/all-solutions/">Our Solutions</a>
<ul class="sub-menu">
<li class="menu-item"><a href="{base_url}/all-solutions/matter/">Matter</a></li>
<li class="menu-item"><a href="{base_url}/all-solutions/zigbee/">Zigbee</a></li>
<li class="menu-item">
<a href="{base_url}/all-solutions/smart-home-data-privacy/">Data Privacy</a></li>
</ul></li>
<li class="menu-item"><a href="{base_url}/certification/">Certification</a></li>
<li class="menu-item current-menu-item">
<a href="{base_url}/csa-iot_products/">Certified Products</a></li>
<li class="menu-item"><a href="{base_url}/members/">Members</a></li>
<li class="menu-item"><a href="{base_url}/newsroom/">Newsroom</a></li>
</ul>
</nav>
</header>
<main id="content" class="site-main">
"""


def _foot(base_url: str) -> str:
    return f"""</main>
<footer id="colophon" class="site-footer">
<aside class="widget-area footer-news">
<h2 class="widget-title">Latest News</h2>
<article class="post type-post status-publish">
<h3 class="entry-title"><a href="{base_url}/newsroom/matter-1-4-enables-more-capable-smart-homes/">
Matter 1.4 Enables More Capable Smart Homes</a></h3>
<p class="entry-date">November 7, 2024</p>
</article>
<article class="post type-post status-publish">
<h3 class="entry-title">
<a href="{base_url}/newsroom/alliance-members-certify-thousands-of-products/">
Alliance Members Certify Thousands of Products</a></h3>
<p class="entry-date">May 8, 2024</p>
</article>
</aside>
<div class="footer-menus">
<ul class="menu">
<li><a href="{base_url}/about/">About</a></li>
<li><a href="{base_url}/contact/">Contact</a></li>
<li><a href="{base_url}/privacy-policy/">Privacy Policy</a></li>
<li><a href="{base_url}/terms-of-use/">Terms of Use</a></li>
</ul>
</div>
<p class="copyright">&copy; 2025 Connectivity Standards Alliance. All rights reserved.</p>
</footer>
</div>
<script src="{base_url}/wp-content/themes/csa-iot/js/navigation.js?ver=2.4.0"
 id="csa-navigation-js"></script>
<script id="wp-emoji-settings" type="application/json">
{{"baseUrl":"https://s.w.org/images/core/emoji/15.0.3/72x72/","ext":".png"}}</script>
</body>
</html>
"""


def _search_form(base_url: str) -> str:
    return f"""<section class="product-search">
<h1 class="page-title">Certified Products</h1>
<form class="product-filters" method="get" action="{base_url}/csa-iot_products/">
<input type="text" name="p_keywords" value="" placeholder="Search by keyword">
<select name="p_type[]"><option value="">Any type</option>
<option value="14" selected>Matter</option><option value="15">Zigbee</option></select>
<select name="p_program_type[]"><option value="1049" selected>Certified Product</option>
<option value="1050">Certified Platform</option></select>
<input type="text" name="p_certificate" value="" placeholder="Certificate ID">
<input type="text" name="p_family" value="" placeholder="Family">
<input type="text" name="p_firmware_ver" value="" placeholder="Firmware version">
<button type="submit">Filter</button>
</form>
</section>
"""


def _list_article(base_url: str, product: DemoProduct, markup: Markup) -> str:
    post = 100000 + product.serial
    classes = "product" if markup is Markup.block else "product type-product status-publish hentry"
    image = (
        f'<div class="entry-image"><img src="{base_url}/wp-content/uploads/product-placeholder.png"'
        ' alt="" loading="lazy" width="300" height="300"></div>\n'
    )
    texts = (
        f'<p class="entry-company notranslate">{escape(product.manufacturer)}</p>\n'
        f'<h3 class="entry-title">{escape(product.model)}</h3>\n'
        f'<p class="entry-certificate-id">Certificate ID: {escape(product.certificate_id)}</p>\n'
    )
    if markup is Markup.nested:
        inner = f'<div class="inner">\n{image}<div class="contents">\n{texts}</div>\n</div>\n'
    else:
        inner = f'{image}<div class="entry-content">\n{texts}</div>\n'
    return (
        f'<article id="post-{post}" class="post-{post} {classes}">\n'
        f'<a href="{_href(detail_url(base_url, product.slug))}">\n'
        f"{inner}</a>\n</article>\n"
    )


def render_list_page(
    base_url: str,
    products: Sequence[DemoProduct],
    current: int,
    last: int,
    markup: Markup = Markup.nested,
) -> str:
    """List page `current` of `last` showing `products` (newest first) in `markup`."""
    title = "Certified Products" if current == 1 else f"Certified Products - Page {current}"
    return "".join(
        (
            _head(
                base_url,
                title,
                list_url(base_url, current),
                "archive post-type-archive post-type-archive-product",
            ),
            _search_form(base_url),
            FEED_OPEN[markup],
            *(_list_article(base_url, product, markup) for product in products),
            _FEED_CLOSE[markup],
            render_pagination(base_url, current, last),
            "\n",
            _foot(base_url),
        )
    )


def render_detail_page(base_url: str, product: DemoProduct) -> str:
    """A product's detail page: header, `li.item` rows and (maybe) the certificates table."""
    table_only = set(product.table_fields)
    items: list[str] = []
    table: list[str] = []
    for label, value in product.rows():
        if label in table_only:
            table.append(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>")
        else:
            items.append(
                f'<li class="item"><span class="label">{escape(label)}</span>'
                f'<span class="value">{escape(value)}</span></li>'
            )
    post = 100000 + product.serial
    parts = [
        _head(
            base_url,
            product.model,
            detail_url(base_url, product.slug),
            f"csa_product-template-default single single-csa_product postid-{post}",
        ),
        f'<article id="post-{post}" class="post-{post} csa_product type-csa_product '
        'status-publish hentry">\n<div class="entry-header">\n'
        f'<h6 class="entry-category">{escape(product.device_type)}</h6>\n'
        f'<h1 class="entry-title">{escape(product.model)}</h1>\n'
        f'<p class="entry-company">{escape(product.manufacturer)}</p>\n'
        '</div>\n<div class="entry-product-details">\n<ul>\n',
        "\n".join(items),
        "\n</ul>\n</div>\n",
    ]
    if table:
        parts += [
            '<div class="entry-certificates">\n<h4>Certificates</h4>\n'
            '<table class="product-certificates-table">\n<tbody>\n',
            "\n".join(table),
            "\n</tbody>\n</table>\n</div>\n",
        ]
    parts += [
        f'<p class="entry-back"><a href="{_href(list_url(base_url, 1))}">'
        "&larr; Back to Certified Products</a></p>\n</article>\n",
        _foot(base_url),
    ]
    return "".join(parts)


def render_not_found(base_url: str) -> str:
    """WordPress' 404 page."""
    return (
        _head(base_url, "Page not found", f"{base_url}/", "error404")
        + '<section class="error-404 not-found"><h1 class="page-title">'
        "Oops! That page can&rsquo;t be found.</h1>"
        "<p>It looks like nothing was found at this location.</p></section>\n" + _foot(base_url)
    )


def render_home(base_url: str, catalogue: DemoCatalogue) -> str:
    """The site's front page: a link into the catalogue."""
    return (
        _head(base_url, "Connectivity Standards Alliance", f"{base_url}/", "home page")
        + f'<section class="hero"><h1 class="page-title">Demo Matter catalogue</h1>'
        f"<p>{catalogue.total} certified products on {catalogue.last_page} pages.</p>"
        f'<p><a href="{_href(list_url(base_url, 1))}">Browse certified products</a></p>'
        "</section>\n" + _foot(base_url)
    )


def render_error(status: int, reason: str) -> str:
    """The short page a proxy shows for a 5xx or 429."""
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} {escape(reason)}</title></head>\n"
        f"<body><center><h1>{status} {escape(reason)}</h1></center><hr>"
        "<center>nginx</center></body></html>\n"
    )
