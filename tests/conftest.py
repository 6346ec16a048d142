"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

REQUIRE_ENV = "INFER_BENCH_REQUIRE_SERVICES"
# Tests that share one service instance per test process run in the same xdist worker (`--dist loadgroup`):
# the Ray cluster's head takes fixed ports (the client server's 10001), so two clusters cannot run side by side,
# and each would be a head and three machines' worth of Ray processes on the machine.
SHARED_SERVICE_GROUPS = {"fleet": "ray-cluster"}


def shared_service_group(nodeid: str) -> str | None:
    """The group of a test id (`tests/fleet/test_x.py::test_y[...]`) by its directory, or None."""
    return SHARED_SERVICE_GROUPS.get(PurePosixPath(nodeid.split("::", 1)[0]).parent.name)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with the groups above decided by the scheduler itself, from each test's id. (An
    `xdist_group` mark is carried to the scheduler inside the test id, which pytest 9.2's structured ids no
    longer let xdist 3.8 change: pytest-xdist issue 1386; the groups then silently fell apart.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedServiceScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_service_group(nodeid) or super()._split_scope(nodeid)

    return SharedServiceScheduling(config, log)


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
