"""`infer-bench history html` rendered by headless Chromium: assertions on the rendered DOM (`--dump-dom`).

A chart per series, the number of points each shows, the change-point markers, the inline script ran under
the Content-Security-Policy (it fills in the count of shown series), no external URL, and a page that stays
small however long the history (older commits merged).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from histdata import main, noisy, series_with, sha, step_history

from bench.results import history
from reports.history_html import MAX_BYTES, points_cap, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--enable-logging=stderr", "--v=0",
]  # fmt: skip  (as tests/reports/test_reports_browser.py)


def dump_dom(tmp_path: Path, page: Path) -> tuple[str, str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def sections(dom: str) -> list[str]:
    return re.findall(r'<section class="series".*?</section>', dom, flags=re.S)


@pytest.mark.browser
def test_dashboard_in_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               require_service: Callable[[bool, str], None]) -> None:
    require_service(CHROMIUM is not None, "headless chromium not installed (apt-get install -y chromium)")
    db = str(tmp_path / "h.sqlite")
    runs = step_history(tmp_path / "a", commits=12, step_at=7, factor=1.4, models=("m1", "m2"))
    runs += step_history(tmp_path / "b", commits=4, step_at=None, factor=1.0, host="hostB", seed=1)
    with history.connect(db) as database:
        for run in runs:
            history.ingest(database, run)
    done = main(capsys, "history", "--db", db, "html", "--out", str(tmp_path / "site"))
    assert done.returncode == 0 and "3 series, 2 change points" in done.stdout
    page = tmp_path / "site" / "index.html"
    dom, stderr = dump_dom(tmp_path, page)

    charts = sections(dom)
    assert len(charts) == 3
    for chart in charts:
        points = int(re.search(r'data-points="(\d+)"', chart).group(1))  # type: ignore[union-attr]
        marks = int(re.search(r'data-changepoints="(\d+)"', chart).group(1))  # type: ignore[union-attr]
        assert chart.count("<circle") == points and chart.count('<line class="cp') == marks
    assert sorted(int(re.search(r'data-points="(\d+)"', c).group(1)) for c in charts) == [4, 12, 12]  # type: ignore[union-attr]
    markers = re.findall(r'<line class="cp cp-regression" data-before="(\w+)" data-after="(\w+)"', dom)
    assert markers == [(sha(6), sha(7))] * 2  # both models, between commits 6 and 7
    assert dom.count('<tr class="regression">') == 2  # the list at the top
    assert re.search(r'showing <span id="shown">3</span> of 3', dom)  # the inline script ran (CSP allowed it)
    assert not re.search(r"\b(src|href)\s*=|url\(|https?://", dom)  # nothing to fetch
    assert [line for line in stderr.splitlines() if ":CONSOLE" in line] == []
    assert "default-src 'none'" in page.read_text()
    assert page.stat().st_size <= 5_000_000


def test_page_is_bounded_however_long_the_history() -> None:
    long = [series_with(noisy(600, 300, 1.2, seed=s, procs=1)) for s in range(3)]
    cap = points_cap(60)
    html = render(long * 20, {})  # 60 series of 600 commits
    assert cap < 600 and len(html.encode()) <= MAX_BYTES
    first = sections(html)[0]
    assert 'data-commits="600"' in first and f'data-points="{cap}"' in first and first.count("<circle") == cap
    assert "(older ones merged)" in first and "600 commits" in first
