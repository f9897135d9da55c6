"""The demo catalogue written out as static files, for a static web server (nginx) to serve.

This is how the benchmarks compare the trio server with a C one serving the very same bytes.
"""

from __future__ import annotations

from pathlib import Path

from .catalogue import DemoCatalogue
from .markup import DETAIL_PATH, LIST_PATH, ROBOTS_TXT, render_detail_page
from .renderer import Renderer


def write_static_site(catalogue: DemoCatalogue, root: Path, base_url: str) -> dict[str, int]:
    """Write every page of `catalogue` under `root`, with links pointing at `base_url`.

    Layout (each page is an ``index.html`` in its URL's directory)::

        root/csa-iot_products/index.html              list page 1
        root/csa-iot_products/page/N/index.html       list page N (1 … last_page)
        root/csa_product/{slug}/index.html            detail pages
        root/404.html, root/robots.txt, root/index.html

    Static servers ignore the query string, so the live site's list URLs work unchanged. They
    cannot show page 1 for a page past the end, as the live site (and `serve_demo`) do; the
    server must be configured for that, e.g. in nginx::

        location /csa-iot_products/page/ { try_files $uri $uri/ /csa-iot_products/index.html; }
        error_page 404 /404.html;

    Returns counts: ``list_pages``, ``detail_pages``, ``files`` and ``bytes`` written.
    """
    renderer = Renderer(catalogue, base_url, max_list_pages=0, max_details=0)
    counts = {"list_pages": 0, "detail_pages": 0, "files": 0, "bytes": 0}

    def write(relative: str, body: bytes) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        counts["files"] += 1
        counts["bytes"] += len(body)

    list_dir = LIST_PATH.strip("/")
    write(f"{list_dir}/index.html", renderer.list_page(1))
    for page in range(1, catalogue.last_page + 1):
        write(f"{list_dir}/page/{page}/index.html", renderer.list_page(page))
        counts["list_pages"] += 1
    detail_dir = DETAIL_PATH.strip("/")
    for product in catalogue:
        body = render_detail_page(renderer.base_url, product).encode()
        write(f"{detail_dir}/{product.slug}/index.html", body)
        counts["detail_pages"] += 1
    write("404.html", renderer.not_found())
    write("index.html", renderer.home())
    write("robots.txt", ROBOTS_TXT)
    return counts
