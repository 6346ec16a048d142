"""One connection shape over two databases: an embedded SQLite file (default) or PostgreSQL (a URL).

Same SQL for both (schema.py); the only differences live here: how to connect, the placeholder
(`?` vs `%s`), and how a writer takes the lock (SQLite: `BEGIN IMMEDIATE`, the one-writer lock of the
file, with WAL so readers never wait; PostgreSQL: a transaction-scoped advisory lock for migrations, and
`ON CONFLICT DO NOTHING` plus the primary keys for concurrent ingests).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.results.history.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE

DEFAULT_PATH = Path(".infer-bench") / "history.sqlite"
ENV = "INFER_BENCH_DB"
BUSY_TIMEOUT_S = 60
MIGRATION_LOCK = 0x1B_E9C4  # the advisory lock key PostgreSQL migrations take
PG_EXTRA = "pip install 'infer-bench[postgres]'"


class HistoryError(BenchError):
    """The history database cannot be opened, read or written, or a run cannot go into it."""


def _is_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL without a password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user = head.partition("//")
    return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"


@dataclass
class Database:
    """An open history database; `where` names it in messages (a path, or a URL without its password)."""

    conn: Any
    dialect: str  # "sqlite" | "postgresql"
    where: str

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect == "postgresql" else text

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.sql(text), tuple(params))

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.dialect == "postgresql":
            with self.conn.cursor() as cur:
                cur.executemany(self.sql(text), list(rows))
        else:
            self.conn.executemany(text, rows)

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(text, params).fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writing transaction, holding the database's write lock from the start."""
        with self.errors("write"):
            if self.dialect == "postgresql":
                with self.conn.transaction():
                    yield
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Database errors of either driver as one HistoryError line that names the database."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.where}: cannot {what} the history database ({exc}); {_sqlite_fix(exc)}") from None
        except HistoryError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise HistoryError(f"{self.where}: cannot {what} the history database ({_first_line(exc)})") from None
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _sqlite_fix(exc: BaseException) -> str:
    if "not a database" in str(exc) or "malformed" in str(exc):
        return ("the file is corrupt: move it away and recreate it from the results files with "
                "`infer-bench history rebuild RESULTS_DIR...`")
    return "check the file and its directory are writable"


def target(db: str | None) -> str:
    """What to open: --db, else $INFER_BENCH_DB, else .infer-bench/history.sqlite."""
    return db or os.environ.get(ENV) or str(DEFAULT_PATH)


def connect(db: str | None = None, migrate: bool = True) -> Database:
    """Open (and bring up to date) the history database named by `db` (see `target`)."""
    where = target(db)
    database = _postgres(where) if _is_url(where) else _sqlite(Path(where))
    if migrate:
        try:
            apply_migrations(database)
        except BaseException:
            database.close()
            raise
    return database


def _sqlite(path: Path) -> Database:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"{path}: cannot open the history database ({exc})") from None
    database = Database(conn, "sqlite", str(path))
    with database.errors("open"):
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        _wal(conn)
        conn.execute("PRAGMA foreign_keys = ON")
    return database


def _wal(conn: sqlite3.Connection, tries: int = 100) -> None:
    """Switch to WAL. Two processes opening a new database at once can find it locked while the other switches:
    SQLite answers that at once, without waiting for its busy timeout, so wait here (up to 10 s) and try again."""
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.1)


def _postgres(url: str) -> Database:
    try:
        import psycopg
    except ImportError:
        raise HistoryError(f"{redacted(url)}: PostgreSQL needs the psycopg package: {PG_EXTRA}") from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise HistoryError(f"{redacted(url)}: cannot connect to PostgreSQL ({_first_line(exc)}); is the server "
                           "running and the URL right?") from None
    return Database(conn, "postgresql", redacted(url))


# ------------------------------------------------------------------ migrations


def stored_version(database: Database) -> int:
    rows = database.rows("SELECT MAX(version) FROM schema_version")
    return int(rows[0][0] or 0) if rows else 0


def apply_migrations(database: Database) -> int:
    """Bring the schema to SCHEMA_VERSION under the write lock; refuse a newer one. Returns the version."""
    with database.transaction():
        if database.dialect == "postgresql":
            database.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        database.execute(VERSION_TABLE)
        version = stored_version(database)
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{database.where}: history schema version {version}, this infer-bench knows up to "
                f"{SCHEMA_VERSION}; upgrade infer-bench to read it, or use another database (--db) and "
                f"fill it with `infer-bench history rebuild`")
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                database.execute(statement)
            database.execute("INSERT INTO schema_version (version) VALUES (?)", (number + 1,))
    return SCHEMA_VERSION
