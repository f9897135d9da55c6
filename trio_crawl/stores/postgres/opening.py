"""Opening a PostgreSQL database: connecting, refusing what is not ours, creating the schema and
the site's record table.

A PostgreSQL database has no header to mark, so the mark is a table: `trio_crawl_schema` holds
the program's name and the schema version. Other tables may live beside ours (a server database
is shared with other tools); what is refused, unchanged:

    a `trio_crawl_schema` of another program                 "… belongs to another program"
    a newer schema than this trio_crawl reads                  "… upgrade trio_crawl"
    our table names without the mark                           "… is not a trio_crawl database"
    marked ours, but a table or column is missing              "… is damaged"

Set-up runs in one transaction under an advisory lock, so that two crawls opening a new
database at once do not both create it (the second waits, then finds it made).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..records import RecordTable
from ..schema import SCHEMA_VERSION, TABLES, StoreOpenError, _mismatch
from .connection import Connection

APPLICATION = "trio_crawl"
SETUP_LOCK = int.from_bytes(b"trCrSchm", "big") & 0x7FFF_FFFF_FFFF_FFFF
"""The advisory lock key every trio_crawl holds while it sets up or checks a database."""

_TYPES = {"INTEGER": "BIGINT", "BOOLEAN": "BOOLEAN", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT"}

DDL = (
    "CREATE TABLE trio_crawl_schema (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " application TEXT NOT NULL, version INTEGER NOT NULL)",
    """
    CREATE TABLE crawl_runs (
        session_id         TEXT    PRIMARY KEY,
        status             TEXT    NOT NULL,
        started_at         TEXT    NOT NULL,
        finished_at        TEXT,
        pages_ok           INTEGER NOT NULL DEFAULT 0,
        pages_failed       INTEGER NOT NULL DEFAULT 0,
        products_saved     INTEGER NOT NULL DEFAULT 0,
        products_failed    INTEGER NOT NULL DEFAULT 0,
        config_json        TEXT,
        error_json         TEXT,
        pid                INTEGER,
        host               TEXT,
        heartbeat_at       TEXT,
        pages_cancelled    INTEGER NOT NULL DEFAULT 0,
        products_cancelled INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX crawl_runs_running ON crawl_runs (status) WHERE status = 'running'",
    """
    CREATE TABLE crawl_ledger (
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
    )
    """,
    "CREATE INDEX crawl_ledger_session ON crawl_ledger (session_id)",
    "CREATE INDEX crawl_ledger_not_done ON crawl_ledger (item, state) WHERE state <> 'done'",
    """
    CREATE TABLE catalogue_shape (
        id           INTEGER PRIMARY KEY CHECK (id = 1),
        base_url     TEXT,
        last_page    INTEGER NOT NULL,
        on_last      INTEGER NOT NULL,
        per_page     INTEGER NOT NULL,
        total        INTEGER NOT NULL,
        session_id   TEXT,
        seen_at      TEXT    NOT NULL,
        record_table TEXT    NOT NULL,
        ordering     TEXT    NOT NULL DEFAULT 'newest_first'
    )
    """,
)


def tables(connection: Connection) -> dict[str, frozenset[str]]:
    """The tables of the connection's current schema and their columns."""
    found: dict[str, set[str]] = {}
    for row in connection.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()"
    ):
        found.setdefault(row["table_name"], set()).add(row["column_name"])
    return {name: frozenset(columns) for name, columns in found.items()}


def check(connection: Connection, shown: str) -> bool:
    """Whether the database holds the current schema (False: none of our tables yet); raise
    `StoreOpenError` for one trio_crawl may not use. Reads only."""
    found = tables(connection)
    if "trio_crawl_schema" in found:
        mark = connection.execute(
            "SELECT application, version FROM trio_crawl_schema WHERE id = 1"
        ).fetchone()
        if mark is None or mark["application"] != APPLICATION:
            raise StoreOpenError(
                shown,
                f"{shown} belongs to another program (its trio_crawl_schema table is not ours);"
                " it was left unchanged: use another database",
            )
        if mark["version"] > SCHEMA_VERSION:
            raise StoreOpenError(
                shown,
                f"{shown} holds trio_crawl schema version {mark['version']}, newer than this"
                f" trio_crawl reads ({SCHEMA_VERSION}); upgrade trio_crawl",
            )
        problem = _mismatch(found, TABLES, exact=False)
        if mark["version"] < SCHEMA_VERSION:
            problem = f"schema version {mark['version']}, which PostgreSQL stores never had"
        if problem:
            raise StoreOpenError(shown, f"{shown} is a damaged trio_crawl database ({problem})")
        return True
    ours = sorted(set(TABLES) & set(found))
    if ours:
        raise StoreOpenError(
            shown,
            f"{shown} is not a trio_crawl database (it has tables {', '.join(ours)} but no"
            " trio_crawl_schema mark); it was left unchanged: use another database",
        )
    return False


def set_up(connection: Connection, records: RecordTable, shown: str) -> None:
    """Check the database and create what is missing (the schema, the site's record table),
    in one transaction under `SETUP_LOCK`; nothing is changed when it is refused."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        if not check(connection, shown):
            for statement in DDL:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO trio_crawl_schema (id, application, version) VALUES (1, %s, %s)",
                (APPLICATION, SCHEMA_VERSION),
            )
        found = tables(connection).get(records.name, frozenset())
        records.check(sorted(found), shown)
        if not found:
            connection.execute(records_ddl(records))
            connection.execute(
                f'CREATE INDEX "{records.name}_position" ON "{records.name}"'
                " (page_id, index_in_page)"
            )


def records_ddl(records: RecordTable) -> str:
    """The site's record table, typed as PostgreSQL types them (`stores.records`)."""
    typed = [f'"{c.name}" {_TYPES.get(c.sql_type, "TEXT")}' for c in records.columns]
    return (
        f'CREATE TABLE "{records.name}" (url TEXT PRIMARY KEY,'
        " page_id INTEGER NOT NULL, index_in_page INTEGER NOT NULL, id TEXT NOT NULL,"
        f" card TEXT, {', '.join([*typed, ''])}created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, listed_at TEXT, delisted_at TEXT)"
    )


def connect_error(shown: str, exc: Exception, url: str = "") -> StoreOpenError:
    """The operator's one line for a connection that could not be made (to `url`, whose
    password, should the driver's message quote it, is blanked out)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***")
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        why = "the server refused the user name or password"
    elif "does not exist" in lowered and "database" in lowered:
        why = "no such database on the server (create it first)"
    elif "connection refused" in lowered or "no such file or directory" in lowered:
        why = "no server answers there (is PostgreSQL running?)"
    elif "invalid" in lowered or "missing" in lowered or "syntax" in lowered:
        why = "the URL is wrong"
    else:
        why = "the connection failed"
    return StoreOpenError(shown, f"cannot connect to {shown}: {why} ({_shortened(text)})")


def _shortened(text: str) -> str:
    return text if len(text) < 300 else text[:300] + "…"
