"""The PostgreSQL store: `PostgresStore` (psycopg 3, the `postgres` extra)."""

from .store import PostgresStore as PostgresStore

__all__ = ["PostgresStore"]
