"""The SQLite schema (DESIGN §6), and the one query that reads a product back as a flat record.

Timestamps are ISO-8601 UTC text. `(page_id, index_in_page)` is unique in both product tables:
a position holds one product, and the newest write for a position wins.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

PRODUCT_COLUMNS = (
    "url",
    "manufacturer",
    "model",
    "certificate_id",
    "page_id",
    "index_in_page",
    "id",
    "created_at",
    "updated_at",
)

DETAIL_COLUMNS = (
    "url",
    "page_id",
    "index_in_page",
    "id",
    "manufacturer",
    "model",
    "device_type",
    "certificate_id",
    "certification_date",
    "software_version",
    "hardware_version",
    "firmware_version",
    "specification_version",
    "vid",
    "pid",
    "family_sku",
    "family_variant_sku",
    "family_id",
    "tis_trp_tested",
    "transport_interface",
    "primary_device_type_id",
    "program_type",
    "created_at",
    "updated_at",
)

RUN_COLUMNS = (
    "session_id",
    "status",
    "started_at",
    "finished_at",
    "pages_ok",
    "pages_failed",
    "products_saved",
    "products_failed",
    "config_json",
    "error_json",
)

# The statements that create the schema, each safe to run again.
DDL = (
    """
    CREATE TABLE IF NOT EXISTS products (
        url            TEXT    PRIMARY KEY,
        manufacturer   TEXT    NOT NULL,
        model          TEXT    NOT NULL,
        certificate_id TEXT    NOT NULL,
        page_id        INTEGER NOT NULL,
        index_in_page  INTEGER NOT NULL,
        id             TEXT    NOT NULL,
        created_at     TEXT    NOT NULL,
        updated_at     TEXT    NOT NULL
    )
    """,
    """
    CREATE UNIQUE INDEX IF NOT EXISTS products_position
        ON products (page_id, index_in_page)
    """,
    """
    CREATE TABLE IF NOT EXISTS product_details (
        url                    TEXT    PRIMARY KEY REFERENCES products (url),
        page_id                INTEGER NOT NULL,
        index_in_page          INTEGER NOT NULL,
        id                     TEXT    NOT NULL,
        manufacturer           TEXT,
        model                  TEXT,
        device_type            TEXT,
        certificate_id         TEXT,
        certification_date     TEXT,
        software_version       TEXT,
        hardware_version       TEXT,
        firmware_version       TEXT,
        specification_version  TEXT,
        vid                    INTEGER,
        pid                    INTEGER,
        family_sku             TEXT,
        family_variant_sku     TEXT,
        family_id              TEXT,
        tis_trp_tested         TEXT,
        transport_interface    TEXT,
        primary_device_type_id TEXT,
        program_type           TEXT,
        created_at             TEXT    NOT NULL,
        updated_at             TEXT    NOT NULL
    )
    """,
    """
    CREATE UNIQUE INDEX IF NOT EXISTS product_details_position
        ON product_details (page_id, index_in_page)
    """,
    """
    CREATE TABLE IF NOT EXISTS crawl_runs (
        session_id      TEXT    PRIMARY KEY,
        status          TEXT    NOT NULL,
        started_at      TEXT    NOT NULL,
        finished_at     TEXT,
        pages_ok        INTEGER NOT NULL DEFAULT 0,
        pages_failed    INTEGER NOT NULL DEFAULT 0,
        products_saved  INTEGER NOT NULL DEFAULT 0,
        products_failed INTEGER NOT NULL DEFAULT 0,
        config_json     TEXT,
        error_json      TEXT
    )
    """,
)

# One flat record per product. The detail page's manufacturer, model and certificate ID may
# differ from the list page's, so both are kept; the detail's copies get a `detail_` prefix.
# Its url/page_id/index_in_page/id/timestamps are written with the product's, so they are left out.
_DETAIL_ONLY = tuple(c for c in DETAIL_COLUMNS if c not in PRODUCT_COLUMNS)
_DETAIL_RENAMED = ("manufacturer", "model", "certificate_id")

RECORD_COLUMNS = (
    *PRODUCT_COLUMNS[:7],
    *(f"detail_{c}" for c in _DETAIL_RENAMED),
    *_DETAIL_ONLY,
    "created_at",
    "updated_at",
)

RECORD_QUERY = (
    "SELECT "
    + ", ".join(
        [
            *(f"p.{c}" for c in PRODUCT_COLUMNS[:7]),
            *(f"d.{c} AS detail_{c}" for c in _DETAIL_RENAMED),
            *(f"d.{c}" for c in _DETAIL_ONLY),
            "p.created_at",
            "p.updated_at",
        ]
    )
    + " FROM products AS p LEFT JOIN product_details AS d ON d.url = p.url"
    + " ORDER BY p.page_id, p.index_in_page"
)
