"""Fixtures for the comparison tests (helpers in compare_fixtures.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from compare_fixtures import WriteRun, write_run_file


@pytest.fixture
def write_run(tmp_path: Path) -> WriteRun:
    """write_run(name, cells, env=...) -> the run directory holding results.jsonl."""

    def write(name: str, cells: Sequence[Sequence[dict[str, Any]]], env: Mapping[str, Any] | None = None) -> Path:
        return write_run_file(tmp_path / name, name, cells, env)

    return write
