"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REQUIRE_ENV = "INFER_BENCH_REQUIRE_SERVICES"
# Tests that share one service instance per test process run in the same xdist worker (`--dist loadgroup`):
# the Ray cluster's head takes fixed ports (the client server's 10001), so two clusters cannot run side by side.
SHARED_SERVICE_GROUPS = {"fleet": "ray-cluster"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = SHARED_SERVICE_GROUPS.get(item.path.parent.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def require_service() -> Callable[[bool, str], None]:
    """`require_service(available, reason)`: skip a test whose service (Chromium, PostgreSQL, a Ray cluster)
    is missing — or fail it where CI says every service must be there (INFER_BENCH_REQUIRE_SERVICES=1)."""

    def need(available: bool, reason: str) -> None:
        if available:
            return
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_ENV}=1: CI installs and starts every service)")
        pytest.skip(reason)

    return need


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The zoo's mnist_cnn exported in every format, once per session (cached like `infer-bench run` caches it)."""
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn")


@pytest.fixture(autouse=True)
def _own_history_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`infer-bench run` records every run in the history database ($INFER_BENCH_DB, else .infer-bench/ under the
    working directory): each test gets its own, so runs of one test never become another's history (which would
    change its reports' rerun intervals) and nothing is written into the checkout."""
    monkeypatch.setenv("INFER_BENCH_DB", str(tmp_path / "run-history.sqlite"))
