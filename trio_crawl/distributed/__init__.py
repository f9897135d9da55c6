"""One crawl shared by many workers through Redis Streams (docs/architecture.md §11): the work
queue (a stream read by a consumer group, whose pending list is the lease) and the connection to
Redis. Needs the `distributed` extra (coredis)."""
