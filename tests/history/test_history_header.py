"""The run header records what the history orders runs by: commit, branch, parent, commit time, dirty."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_history_bisect import git

from bench.results.fingerprint import git_commit


def test_header_git_facts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_HEAD_REF", raising=False)
    monkeypatch.delenv("GITHUB_REF_NAME", raising=False)
    git(tmp_path, "init", "-q", "-b", "feature")
    for i in range(2):
        (tmp_path / "f").write_text(str(i))
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", f"c{i}")
    head, parent = git(tmp_path, "rev-parse", "HEAD"), git(tmp_path, "rev-parse", "HEAD^")
    info = git_commit(tmp_path)
    assert info is not None
    assert (info["commit"], info["parent"], info["branch"], info["dirty"]) == (head, parent, "feature", False)
    assert info["committed"].startswith(git(tmp_path, "show", "-s", "--format=%cI", "HEAD")[:10])
    (tmp_path / "f").write_text("changed")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")  # CI: a detached checkout of main
    info = git_commit(tmp_path)
    assert info is not None and info["dirty"] is True and info["branch"] == "main"
    monkeypatch.setenv("GITHUB_HEAD_REF", "my-pr")  # a pull request's branch wins
    git(tmp_path, "checkout", "-q", "--detach")
    info = git_commit(tmp_path)
    assert info is not None and info["branch"] == "my-pr"
    monkeypatch.delenv("GITHUB_HEAD_REF")
    monkeypatch.delenv("GITHUB_REF_NAME")
    info = git_commit(tmp_path)
    assert info is not None and info["branch"] is None  # detached, outside CI: no branch to claim
