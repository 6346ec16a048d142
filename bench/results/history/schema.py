"""The history database's schema: portable SQL (SQLite and PostgreSQL read the same text), versioned.

Migration N takes the database from version N-1 to N; `SCHEMA_VERSION` is the newest this infer-bench
knows. Opening a database applies what is missing, under a lock, in one transaction each (history.db);
a database stamped with a newer version is refused with a message saying what to do.

Version history:
  1 - machines, commits, runs, cells, processes (per-process statistics), load_results.

What is stored (DESIGN.md, History): the results files stay the source of truth; this is an index of them
(`history rebuild` recreates it). Raw samples stay in the results files: a process is summarised by its
median, p90, p99, mean and sample count, which is what change points and charts need.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Portable SQL only: TEXT, BIGINT, DOUBLE PRECISION, INTEGER; no AUTOINCREMENT/SERIAL (keys are natural).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE machines (
            machine_id TEXT PRIMARY KEY,
            host TEXT,
            cpu_model TEXT,
            logical_cores INTEGER,
            memory_bytes BIGINT,
            gpus TEXT,
            fingerprint TEXT NOT NULL
        )""",
        """CREATE TABLE commits (
            sha TEXT PRIMARY KEY,
            parent TEXT,
            committed TEXT,
            known INTEGER NOT NULL
        )""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            machine_id TEXT NOT NULL REFERENCES machines(machine_id),
            commit_sha TEXT REFERENCES commits(sha),
            branch TEXT,
            dirty INTEGER,
            created TEXT NOT NULL,
            scenario_path TEXT,
            source TEXT NOT NULL,
            header TEXT NOT NULL,
            ingested TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_branch ON runs(branch, machine_id)",
        """CREATE TABLE cells (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            cell_id TEXT NOT NULL,
            cell_key TEXT NOT NULL,
            model TEXT NOT NULL,
            variant TEXT NOT NULL,
            device TEXT NOT NULL,
            batch_size INTEGER NOT NULL,
            identity TEXT NOT NULL,
            PRIMARY KEY (run_id, cell_id)
        )""",
        "CREATE INDEX cells_by_key ON cells(cell_key)",
        """CREATE TABLE processes (
            run_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            repetition INTEGER NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            samples BIGINT NOT NULL,
            median_ns DOUBLE PRECISION,
            p90_ns DOUBLE PRECISION,
            p99_ns DOUBLE PRECISION,
            mean_ns DOUBLE PRECISION,
            PRIMARY KEY (run_id, cell_id, repetition),
            FOREIGN KEY (run_id, cell_id) REFERENCES cells(run_id, cell_id)
        )""",
        """CREATE TABLE load_results (
            run_id TEXT NOT NULL,
            cell_id TEXT NOT NULL,
            repetition INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (run_id, cell_id, repetition)
        )""",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

# The metric columns a series can follow (metric name -> column), as `compare --metric` spells them.
METRIC_COLUMNS = {"p50": "median_ns", "p90": "p90_ns", "p99": "p99_ns", "mean": "mean_ns"}
