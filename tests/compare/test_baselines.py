"""bench.results.baselines on real files: save, load, list; missing and corrupt baselines fail loudly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compare_fixtures import WriteRun, cell

from bench.errors import BaselineError
from bench.results import baselines
from reports.errors import ResultsFileError

STEADY = [1.00, 1.04, 0.97, 1.02, 0.99]


@pytest.fixture
def saved(write_run: WriteRun, tmp_path: Path) -> tuple[Path, baselines.Baseline]:
    root = tmp_path / "baselines"
    run = write_run("main", [cell("a", STEADY), cell("b", STEADY, batch_size=8)])
    return root, baselines.save([run], "main", root)


def test_save_and_load(saved: tuple[Path, baselines.Baseline]) -> None:
    root, baseline = saved
    assert baseline.meta["cells"] == 2 and baseline.meta["processes"] == 10
    loaded = baselines.load("main", root)
    assert [f.name for f in loaded.files] == ["results-0.jsonl"]
    assert loaded.meta["format"] == baselines.BASELINE_FORMAT
    assert [name for name, b, _ in baselines.list_all(root) if b is not None] == ["main"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_save_refuses_to_overwrite_without_force(saved: tuple[Path, baselines.Baseline], write_run: WriteRun) -> None:
    root, _ = saved
    run = write_run("pr", [cell("a", STEADY)])
    with pytest.raises(BaselineError, match="already exists.*--force"):
        baselines.save([run], "main", root)
    replaced = baselines.save([run], "main", root, force=True)
    assert replaced.meta["cells"] == 1
    assert baselines.load("main", root).meta["cells"] == 1


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="no baseline 'main'.*baseline save"):
        baselines.load("main", tmp_path / "nowhere")


def test_bad_name(tmp_path: Path, write_run: WriteRun) -> None:
    with pytest.raises(BaselineError, match="not allowed"):
        baselines.save([write_run("r", [cell("a", STEADY)])], "../escape", tmp_path)


def test_save_of_a_missing_or_empty_run(tmp_path: Path, write_run: WriteRun) -> None:
    with pytest.raises(ResultsFileError):
        baselines.save([tmp_path / "no-such-run"], "x", tmp_path / "b")
    with pytest.raises(BaselineError, match="no cell records"):
        baselines.save([write_run("empty", [])], "x", tmp_path / "b")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "baseline.json").unlink(), "baseline.json: missing"),
        (lambda p: (p / "baseline.json").write_text("{not json"), "unreadable"),
        (lambda p: (p / "baseline.json").write_text(json.dumps({"format": 99})), "baseline format 99"),
        (lambda p: (p / "results-0.jsonl").unlink(), "missing from baseline"),
        (lambda p: (p / "results-0.jsonl").write_bytes((p / "results-0.jsonl").read_bytes()[:-40]), "checksum"),
    ],
)
def test_corrupt_baseline(saved: tuple[Path, baselines.Baseline], damage, message: str) -> None:
    root, baseline = saved
    damage(baseline.path)
    with pytest.raises(BaselineError, match=message):
        baselines.load("main", root)
    assert baselines.list_all(root)[0][1] is None


def test_corrupt_results_with_matching_checksum(saved: tuple[Path, baselines.Baseline]) -> None:
    """Even a file rewritten along with its checksum is parsed before use."""
    root, baseline = saved
    results = baseline.path / "results-0.jsonl"
    results.write_text('{"schema": 1, "kind": "header"}\n{oops}\n{"schema": 1, "kind": "cell"}\n')
    meta = json.loads((baseline.path / "baseline.json").read_text())
    meta["sha256"]["results-0.jsonl"] = baselines._sha256(results)
    (baseline.path / "baseline.json").write_text(json.dumps(meta))
    with pytest.raises(BaselineError, match="corrupt.*not valid JSON"):
        baselines.load("main", root)


def test_root_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(baselines.ENV_VAR, str(tmp_path / "elsewhere"))
    assert baselines.baselines_root() == tmp_path / "elsewhere"
    assert baselines.baselines_root(tmp_path / "flag") == tmp_path / "flag"
