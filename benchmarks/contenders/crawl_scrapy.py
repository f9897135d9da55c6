"""Scrapy, tuned as the issue asks: 32 concurrent requests (per domain too), CONCURRENT_ITEMS=1,
log level WARNING, no autothrottle, no telnet console, robots.txt ignored, cookies off.

Parses with Scrapy's own CSS selectors (parsel), its idiomatic parser. Scrapy 2.13+ only
calls ``async def start()``, not a synchronous ``start_requests``. Runs in
``benchmarks/.venvs/scrapy``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, clean, list_url, report


def page_number(text: str) -> int | None:
    text = clean(text)
    return int(text) if text.isdigit() else None


class CatalogueSpider(scrapy.Spider):
    name = "catalogue"

    def __init__(self, base_url: str, tally: Tally, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url
        self.tally = tally

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(list_url(self.base_url, 1), self.parse_list, cb_kwargs={"page": 1})

    def parse_list(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        tally = self.tally
        tally.requests += 1
        current = page_number(response.css("span.page-numbers.current::text").get() or "")
        cards = response.css("div.post-feed article.product.type-product")
        if current != page or not cards:
            tally.errors += 1
            return
        tally.list_pages += 1
        if page == 1:
            numbers = [page_number(t) for t in response.css("a.page-numbers::text").getall()]
            highest = max([n for n in numbers if n is not None], default=1)
            for number in range(2, highest + 1):
                yield scrapy.Request(
                    list_url(self.base_url, number), self.parse_list, cb_kwargs={"page": number}
                )
        for href in cards.css("a::attr(href)").getall():
            yield response.follow(href, self.parse_detail)

    def parse_detail(self, response: Response) -> Iterator[dict[str, str]]:
        self.tally.requests += 1
        model = clean(response.css("h1.entry-title::text").get())
        manufacturer = clean(response.css("p.entry-company::text").get())
        certificate = ""
        for row in response.css("div.entry-product-details li.item"):
            if clean(row.css("span.label::text").get()) == "Certificate ID":
                certificate = clean(row.css("span.value::text").get())
                break
        self.tally.product(model, manufacturer, certificate)
        yield {"model": model, "manufacturer": manufacturer, "certificate_id": certificate}


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    settings = {
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "CONCURRENT_ITEMS": 1,
        "LOG_LEVEL": "WARNING",
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
    }
    tally = Tally(notes={"concurrency": args.concurrency, "scrapy": scrapy.__version__})
    tally.start()
    process = CrawlerProcess(settings)
    process.crawl(CatalogueSpider, base_url=args.base_url, tally=tally)
    process.start()
    report("scrapy", tally, time.perf_counter() - tally.started)


if __name__ == "__main__":
    main()
