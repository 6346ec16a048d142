"""The results store: durable appends, torn last line, resume, unknown schema, the latest link."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.results.store import RunStore, StoreError, cut_torn_tail, new_run_id, update_latest
from reports.errors import ResultsFileError
from reports.schema import SCHEMA_VERSION, read_run_file


def cell(cell_id: str, rep: int = 0) -> dict[str, object]:
    return {"kind": "cell", "cell_id": cell_id, "repetition": rep, "status": "ok"}


def test_append_writes_one_schema_stamped_line_per_record(tmp_path: Path) -> None:
    with RunStore.create(tmp_path / "run", "r1") as store:
        store.append({"kind": "header", "env": {}})
        store.append(cell("a"))
        # Durable before close: another reader sees both lines now.
        lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
        assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert all(r["schema"] == SCHEMA_VERSION and r["run_id"] == "r1" for r in records)


def test_append_fsyncs_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    with RunStore.create(tmp_path / "run", "r1") as store:
        store.append(cell("a"))
        store.append(cell("b"))
    assert len(synced) == 2


def test_create_refuses_an_existing_run(tmp_path: Path) -> None:
    RunStore.create(tmp_path, "r1").close()
    with pytest.raises(StoreError, match="--resume"):
        RunStore.create(tmp_path, "r2")


def test_resume_cuts_a_torn_last_line_and_reports_finished_cells(tmp_path: Path) -> None:
    with RunStore.create(tmp_path, "r1") as store:
        store.append({"kind": "header", "env": {}})
        store.append(cell("a", 0))
        store.append(cell("a", 1))
    with open(tmp_path / "results.jsonl", "ab") as f:
        f.write(b'{"schema":1,"kind":"cell","cell_id":"b","rep')  # parent killed mid-write
    assert read_run_file(tmp_path / "results.jsonl").torn_line == 4
    store, info = RunStore.resume(tmp_path)
    assert info.done == {("a", 0), ("a", 1)} and info.torn_line == 4
    with store:
        store.append(cell("b"))
    run = read_run_file(tmp_path / "results.jsonl")
    assert run.torn_line is None
    assert [c["cell_id"] for c in run.cells] == ["a", "a", "b"]


def test_resume_refuses_unknown_schema_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text(json.dumps({"schema": 99, "kind": "header", "run_id": "x"}) + "\n")
    with pytest.raises(ResultsFileError, match="schema version 99.*re-run"):
        RunStore.resume(tmp_path)


def test_resume_needs_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no results.jsonl"):
        RunStore.resume(tmp_path)


def test_cut_torn_tail_leaves_a_complete_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\nb\n")
    assert cut_torn_tail(path) == 0 and path.read_bytes() == b"a\nb\n"
    path.write_bytes(b"a\nbro")
    assert cut_torn_tail(path) == 3 and path.read_bytes() == b"a\n"


def test_latest_link_points_at_the_newest_run(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        link = update_latest(tmp_path / name)
    assert link.is_symlink() and os.readlink(link) == "two"
    assert link.resolve() == (tmp_path / "two").resolve()


def test_run_ids_sort_by_time_and_differ() -> None:
    a, b = new_run_id(), new_run_id()
    assert a[:15] <= b[:15] and a != b
