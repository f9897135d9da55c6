"""The config of the distributed crawl tests: the whole catalogue, one list page a batch (so
three workers share many batches), quick retries (the faults are transient), parsing in the
crawl's own thread (three workers' parse processes would crowd two cores)."""

from __future__ import annotations

from trio_crawl import CrawlConfig

QUICK_RETRY = {"base_delay_ms": 10, "max_delay_ms": 50, "jitter_ms": 0}


def distributed_config(strategy: str = "full") -> CrawlConfig:
    return CrawlConfig.from_dict(
        {
            "crawl": {
                "strategy": strategy,
                "batch_size": 1,
                "page_range_limit": 1000,
                "request_timeout_secs": 10,
            },
            "rate_limit": {"requests_per_second": 0},
            "concurrency": {"parse_processes": 0},
            "retry": {
                "list_pages": dict(QUICK_RETRY, max_attempts=5),
                "product_details": dict(QUICK_RETRY, max_attempts=5),
                "status_check": dict(QUICK_RETRY, max_attempts=5),
            },
        }
    )
