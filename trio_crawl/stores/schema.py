"""The SQLite schema of the store's own tables (crawl runs, the crawl ledger, the catalogue
shape), how a database says it is ours and which version it holds, and how an older one is
upgraded. A catalogue's items live in a table of its site's (`stores.records`); up to version 3
the Matter catalogue had two tables of its own, which version 4 copies into its record table.

Timestamps are ISO-8601 UTC text.

A trio_crawl database carries two marks in its header: ``PRAGMA application_id`` is
`APPLICATION_ID` (the program) and ``PRAGMA user_version`` is the schema version. `inspect`
reads them, and the tables, without writing anything, and refuses with `StoreOpenError`:

    not an SQLite file, or unreadable                  "… is not an SQLite database"
    another program's (another application_id)          "… belongs to another program"
    a newer schema than this trio_crawl reads           "… upgrade trio_crawl"
    unmarked, with tables that are not exactly ours     "… is not a trio_crawl database"
    marked ours, but a table or column is missing       "… is damaged"

A refused file is never changed. An unmarked file with exactly the version-1 tables was made by
trio_crawl 0.1 before the marks existed; it is marked and used. A marked file of an older
version is upgraded by `MIGRATIONS`, in one transaction.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from collections.abc import Mapping
from types import MappingProxyType

from ..engine.results import ErrorKind, StageError

SCHEMA_VERSION = 4
"""The schema this code reads and writes; recorded as ``PRAGMA user_version``. Version 2 added
the crawl ledger (`crawl_ledger`, `catalogue_shape`) and the liveness columns of `crawl_runs`;
version 3 keeps delisted products (`products.listed_at`, `products.delisted_at`): a position is
unique among the products listed now, and a delisted one keeps the position it last had;
version 4 keeps the Matter catalogue's products as any site's records, in its record table
`matter` (`stores.records`), and drops `products` and `product_details`."""

APPLICATION_ID = int.from_bytes(b"trCr", "big")
"""``PRAGMA application_id`` of every trio_crawl database (0x74724372, "trCr")."""


PRODUCT_COLUMNS_V1 = (
    "url", "manufacturer", "model", "certificate_id", "page_id", "index_in_page", "id",
    "created_at", "updated_at",
)  # fmt: skip

LISTING_COLUMNS = ("listed_at", "delisted_at")
"""When a product was last seen on a list page, and since when it is not (NULL while listed)."""

DETAIL_COLUMNS = (
    "url", "page_id", "index_in_page", "id", "manufacturer", "model", "device_type",
    "certificate_id", "certification_date", "software_version", "hardware_version",
    "firmware_version", "specification_version", "vid", "pid", "family_sku",
    "family_variant_sku", "family_id", "tis_trp_tested", "transport_interface",
    "primary_device_type_id", "program_type", "created_at", "updated_at",
)  # fmt: skip

RUN_COLUMNS = (
    "session_id", "status", "started_at", "finished_at", "pages_ok", "pages_failed",
    "products_saved", "products_failed", "config_json", "error_json", "pid", "host",
    "heartbeat_at", "pages_cancelled", "products_cancelled",
)  # fmt: skip

LEDGER_COLUMNS = (
    "url", "item", "page", "total", "page_id", "index_in_page", "state", "stage", "error_kind",
    "attempts", "last_error", "session_id", "updated_at",
)  # fmt: skip

SHAPE_COLUMNS = (
    "id", "base_url", "last_page", "on_last", "per_page", "total", "session_id", "seen_at",
    "record_table", "ordering",
)  # fmt: skip

# The statements that created version 1 (trio_crawl 0.1), each safe to run again.
DDL_V1 = (
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

# Version 2: the crawl ledger. One row per list page of the catalogue shape being crawled and
# per product URL seen, with its state. A product row turns `done` in the transaction that
# upserts the product, so `done` rows and the products table always agree. Page rows describe
# pages of the shape in `catalogue_shape` (`total` products); product rows keep their stable
# position, which a grown catalogue does not move.
_LEDGER_DDL = (
    """
    CREATE TABLE IF NOT EXISTS crawl_ledger (
        url           TEXT    PRIMARY KEY,
        item          TEXT    NOT NULL CHECK (item IN ('page', 'product')),
        page          INTEGER,
        total         INTEGER,
        page_id       INTEGER,
        index_in_page INTEGER,
        state         TEXT    NOT NULL
                      CHECK (state IN ('pending', 'done', 'failed', 'cancelled')),
        stage         TEXT,
        error_kind    TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        session_id    TEXT,
        updated_at    TEXT    NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS catalogue_shape (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        base_url   TEXT,
        last_page  INTEGER NOT NULL,
        on_last    INTEGER NOT NULL,
        per_page   INTEGER NOT NULL,
        total      INTEGER NOT NULL,
        session_id TEXT,
        seen_at    TEXT    NOT NULL,
        -- where the catalogue's items are: products (Matter) or a site's own table
        record_table TEXT  NOT NULL DEFAULT 'products',
        -- how the site lists its items (newest_first, oldest_first, unordered): which site
        -- page shows a position
        ordering     TEXT  NOT NULL DEFAULT 'newest_first'
    )
    """,
)

_RUN_LIVENESS_COLUMNS = ("pid INTEGER", "host TEXT", "heartbeat_at TEXT")

_V2 = (
    *(f"ALTER TABLE crawl_runs ADD COLUMN {column}" for column in _RUN_LIVENESS_COLUMNS),
    *_LEDGER_DDL,
)

# Version 3: delisted products stay. A position is unique among the listed products only (a
# delisted product keeps the one it last had, which a listed product may hold now); the details'
# positions follow their product's, so their index is no longer unique.
_V3 = (
    *(f"ALTER TABLE products ADD COLUMN {column} TEXT" for column in LISTING_COLUMNS),
    # What a stop cancelled is not what failed.
    "ALTER TABLE crawl_runs ADD COLUMN pages_cancelled INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE crawl_runs ADD COLUMN products_cancelled INTEGER NOT NULL DEFAULT 0",
    "DROP INDEX IF EXISTS products_position",
    "CREATE UNIQUE INDEX products_position ON products (page_id, index_in_page)"
    " WHERE delisted_at IS NULL",
    "DROP INDEX IF EXISTS product_details_position",
    "CREATE INDEX product_details_position ON product_details (page_id, index_in_page)",
)

# Version 4: the Matter catalogue is a site like any other. Its products and their details go
# into its record table (as `stores.records` made it for `ProductDetail` when this version was
# written: a migration is a record of the past, so it is spelled out rather than derived), with
# their positions, listing marks and timestamps; the list card's fields become its `card`.
_MATTER_TABLE = (
    'CREATE TABLE IF NOT EXISTS "matter" (url TEXT PRIMARY KEY, page_id INTEGER NOT NULL,'
    ' index_in_page INTEGER NOT NULL, id TEXT NOT NULL, card TEXT, "record_url" TEXT,'
    ' "model" TEXT, "manufacturer" TEXT, "device_type" TEXT, "certificate_id" TEXT,'
    ' "certification_date" TEXT, "software_version" TEXT, "hardware_version" TEXT,'
    ' "firmware_version" TEXT, "specification_version" TEXT, "vid" INTEGER, "pid" INTEGER,'
    ' "family_sku" TEXT, "family_variant_sku" TEXT, "family_id" TEXT, "tis_trp_tested" TEXT,'
    ' "transport_interface" TEXT, "primary_device_type_id" TEXT, "program_type" TEXT,'
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, listed_at TEXT, delisted_at TEXT)"
)
# What the detail page said: every `product_details` column but the keys and timestamps.
_MATTER_DETAIL_FIELDS = tuple(
    column
    for column in DETAIL_COLUMNS
    if column not in ("url", "page_id", "index_in_page", "id", "created_at", "updated_at")
)
_V4 = (
    # (A file of a site of its own gets the table too, empty: its own table stays as it is.)
    _MATTER_TABLE,
    "INSERT INTO matter (url, page_id, index_in_page, id, card, record_url, "
    + ", ".join(_MATTER_DETAIL_FIELDS)
    + ", created_at, updated_at, listed_at, delisted_at) SELECT p.url, p.page_id,"
    " p.index_in_page, p.id, json_object('manufacturer', p.manufacturer, 'model', p.model,"
    " 'certificate_id', p.certificate_id), p.url, "
    + ", ".join(f"d.{field}" for field in _MATTER_DETAIL_FIELDS)
    + ", p.created_at, p.updated_at, p.listed_at, p.delisted_at"
    " FROM products AS p LEFT JOIN product_details AS d ON d.url = p.url"
    " WHERE true ON CONFLICT (url) DO NOTHING",
    "UPDATE catalogue_shape SET record_table = 'matter' WHERE record_table = 'products'",
    "DROP TABLE product_details",
    "DROP TABLE products",
)

# The statements that create the current schema on an empty file: the store's own tables as
# version 1 to 4 left them (version 4 dropped the product tables the others made).
DDL = (
    DDL_V1[-1],  # crawl_runs
    *(f"ALTER TABLE crawl_runs ADD COLUMN {column}" for column in _RUN_LIVENESS_COLUMNS),
    *_LEDGER_DDL,
    *(statement for statement in _V3 if statement.startswith("ALTER TABLE crawl_runs")),
)

MIGRATIONS: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {
        2: (
            *_V2,
            # Every product stored before the ledger existed is done.
            "INSERT INTO crawl_ledger (url, item, page_id, index_in_page, state, updated_at)"
            " SELECT url, 'product', page_id, index_in_page, 'done', updated_at FROM products",
        ),
        # Every product stored so far was listed when it was stored.
        3: (*_V3, "UPDATE products SET listed_at = updated_at"),
        4: _V4,
    }
)
"""For version n ≥ 2, the statements that take a version n-1 database to n (in one transaction)."""

TABLES_V1: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "products": PRODUCT_COLUMNS_V1,
        "product_details": DETAIL_COLUMNS,
        "crawl_runs": RUN_COLUMNS[: RUN_COLUMNS.index("error_json") + 1],
    }
)
"""The tables of version 1 (trio_crawl 0.1, which did not mark its files) and their columns."""

TABLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "crawl_runs": RUN_COLUMNS,
        "crawl_ledger": LEDGER_COLUMNS,
        "catalogue_shape": SHAPE_COLUMNS,
    }
)
"""The tables of the current schema and their columns."""


class StoreOpenError(StageError):
    """A database file that cannot be used (missing directory, not SQLite, another program's or
    schema's, a newer version, damaged). `path` is the file, the message says what to do; the
    file was not changed. Its kind is `database_error` (`database_busy` when it was locked)."""

    def __init__(
        self, path: str | os.PathLike[str], message: str, kind: ErrorKind = ErrorKind.database_error
    ) -> None:
        super().__init__(kind, message)
        self.path = os.fspath(path)


class SchemaState(enum.Enum):
    """What `inspect` found in a database it accepts."""

    empty = "empty"  # no tables and no marks: create the schema
    unmarked = "unmarked"  # trio_crawl 0.1's tables without the marks: mark it, upgrade it
    older = "older"  # ours, an older version: run MIGRATIONS
    current = "current"  # ours, this version: use it as it is


def inspect(connection: sqlite3.Connection, path: str | os.PathLike[str]) -> SchemaState:
    """Classify the database on `connection` without writing; raise `StoreOpenError` if it is
    not one trio_crawl may use.

    Its reads are one read transaction (unless the caller's transaction is open already): each
    on its own could see another process's schema set-up commit between two of them, a new
    file's tables with no marks yet, and call it another program's."""
    own = not connection.in_transaction
    try:
        if own:
            connection.execute("BEGIN")
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                name: _columns(connection, name)
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                ).fetchall()
            }
        finally:
            if own and connection.in_transaction:
                connection.execute("ROLLBACK")
    except sqlite3.DatabaseError as exc:
        raise StoreOpenError(
            path,
            f"{os.fspath(path)} is not an SQLite database ({exc}); give the name of a new file"
            " or of a trio_crawl database",
        ) from exc
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreOpenError(
                path,
                f"{os.fspath(path)} holds trio_crawl schema version {version}, newer than this"
                f" trio_crawl reads ({SCHEMA_VERSION}); upgrade trio_crawl",
            )
        if version == SCHEMA_VERSION:
            problem = _mismatch(tables, TABLES, exact=False)
            if problem:
                raise StoreOpenError(
                    path, f"{os.fspath(path)} is a damaged trio_crawl database ({problem})"
                )
            return SchemaState.current
        return SchemaState.older
    if application_id != 0:
        raise StoreOpenError(
            path,
            f"{os.fspath(path)} belongs to another program (application_id"
            f" {application_id:#010x}); it was left unchanged: use a new file",
        )
    if not tables and version == 0:
        return SchemaState.empty
    problem = (
        _mismatch(tables, TABLES_V1, exact=True) if version in (0, 1) else f"user_version {version}"
    )
    if problem:
        raise StoreOpenError(
            path,
            f"{os.fspath(path)} is not a trio_crawl database ({problem}); it was left unchanged:"
            " use a new file",
        )
    return SchemaState.unmarked


def _columns(connection: sqlite3.Connection, table: str) -> frozenset[str]:
    quoted = table.replace('"', '""')
    return frozenset(row[1] for row in connection.execute(f'PRAGMA table_info("{quoted}")'))


def _mismatch(
    tables: Mapping[str, frozenset[str]], wanted: Mapping[str, tuple[str, ...]], *, exact: bool
) -> str:
    """How `tables` differ from `wanted` ("" when they match); with `exact`, extra tables or
    columns count too."""
    problems: list[str] = []
    for table, columns in wanted.items():
        found = tables.get(table)
        if found is None:
            problems.append(f"no table {table}")
            continue
        missing = [c for c in columns if c not in found]
        if missing:
            problems.append(f"table {table} lacks {', '.join(missing)}")
        extra = sorted(found - set(columns))
        if exact and extra:
            problems.append(f"table {table} has other columns {', '.join(extra)}")
    others = sorted(set(tables) - set(wanted))
    if exact and others:
        problems.append(f"other tables {', '.join(others)}")
    return "; ".join(problems)
