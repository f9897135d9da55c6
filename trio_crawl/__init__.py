"""trio_crawl: crawl paginated catalogues with trio structured concurrency."""
