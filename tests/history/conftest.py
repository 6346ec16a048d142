"""A real PostgreSQL server for the history tests, and one fresh database per test on each backend.

The server is Debian's PostgreSQL 15 (.ci/run installs it), started once per session with initdb/pg_ctl in
a temporary directory owned by `postgres` (PostgreSQL refuses to run as root), listening on a Unix socket
only. Where it cannot start, its tests skip (and fail under INFER_BENCH_REQUIRE_SERVICES=1, as in CI).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 5432  # a private socket directory: no clash with any other server
_names = itertools.count()


def _as_postgres(*cmd: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


def _start(root: Path) -> str | None:
    """Start a server in `root`; its URL, or None with the reason printed into root/why."""
    if not (PG_BIN / "pg_ctl").exists():
        return None
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    steps = [
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"),
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                     "-o", f"-k {root} -p {PORT} -h '' -c fsync=off", "start"),
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            (root / "why").write_text(done.stderr[-2000:] + done.stdout[-2000:])
            return None
    return f"postgresql://postgres@/postgres?host={root}&port={PORT}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    root = Path(tempfile.mkdtemp(prefix="ibpg-", dir="/tmp"))
    url = None
    try:
        url = _start(root)
        yield url
    finally:
        if url is not None:
            subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"),
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str | None, require_service: Callable[[bool, str], None]) -> str:
    """A URL to a fresh, empty database on the session's server."""
    try:
        import psycopg
    except ImportError:
        psycopg = None  # type: ignore[assignment]
    require_service(psycopg is not None, "psycopg not installed (pip install 'infer-bench[postgres]')")
    require_service(postgres_server is not None, f"PostgreSQL 15 could not start (apt-get install -y postgresql; "
                    f"pg_ctl at {PG_BIN})")
    assert postgres_server is not None and psycopg is not None
    name = f"t{os.getpid()}_{next(_names)}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_server.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes it runs against a fresh SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return str(request.getfixturevalue("postgres_url"))
