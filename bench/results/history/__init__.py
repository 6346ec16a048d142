"""The history database: every run's per-process statistics by machine x commit x cell (DESIGN.md, History).

An index of the results files (the source of truth; `history rebuild` recreates it): an embedded SQLite file
by default (.infer-bench/history.sqlite), PostgreSQL by URL (--db / INFER_BENCH_DB; `pip install
'infer-bench[postgres]'`). `schema` holds the SQL and its migrations, `db` the connection, `ingest` puts a
run in, `query` reads series out for reports.history.
"""

from bench.results.history.db import Database, HistoryError, connect, target
from bench.results.history.ingest import IngestResult, ingest
from bench.results.history.query import Filter, load_series

__all__ = ["Database", "HistoryError", "connect", "target", "IngestResult", "ingest", "Filter", "load_series"]
