"""The HTML report in a real headless browser (Debian's `chromium`; .ci/run installs it).

Checks: the page loads from a file with no console messages (no script errors, no blocked
network requests: the Content-Security-Policy would log them), the inline error hook recorded
nothing, every plot is present in the rendered DOM, and a screenshot can be taken. A negative
control proves the checks can fail. Set INFER_BENCH_ARTIFACTS=DIR to keep the screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import synth

from reports.api import render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run", "--enable-logging=stderr", "--v=0",
]  # fmt: skip
EXPECTED_PLOTS = {"throughput": 2, "latency": 2, "distribution": 2, "coldstart": 2}


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def js_error(dom: str) -> str | None:
    """What the report's inline error hook recorded on <html>, if anything."""
    tag = re.search(r"<html[^>]*>", dom)
    found = re.search(r'data-js-error="([^"]*)"', tag.group(0)) if tag else None
    return found.group(1) if found else None


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(autouse=True)
def _chromium(require_service: Callable[[bool, str], None]) -> None:
    require_service(CHROMIUM is not None, "headless chromium not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    html = render_report([synth.standard_run(root / "r")], "html", slo_ms=1.0)
    assert isinstance(html, str)
    path = root / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_loads_without_console_errors_and_shows_every_plot(report: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path, report, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    dom = result.stdout
    assert js_error(dom) is None
    for kind, count in EXPECTED_PLOTS.items():
        figures = re.findall(rf'<figure class="plot" data-plot="{kind}">\s*<svg', dom)
        assert len(figures) == count, kind
    # plus the roofline: the synthetic cells carry FLOPs, so achieved GFLOP/s is drawn against the peak
    assert len(re.findall(r'<figure class="roofline">\s*<svg', dom)) == 1
    assert dom.count("<svg") == sum(EXPECTED_PLOTS.values()) + 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the hostile model path shows as text


def test_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = chromium(tmp_path, report, f"--screenshot={shot}", "--window-size=1280,2400")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank page compresses to a few KB
    keep = os.environ.get("INFER_BENCH_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report.png")


def test_negative_control_a_broken_page_is_caught(report: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    injected = '<script>throw new Error("boom")</script><img src="https://example.invalid/x.png">'
    broken.write_text(report.read_text(encoding="utf-8").replace("</main>", injected + "</main>"), encoding="utf-8")
    result = chromium(tmp_path, broken, "--dump-dom")
    messages = console_messages(result.stderr)
    assert any("Content Security Policy" in m and "inline" in m for m in messages)  # the script never ran
    assert any("example.invalid" in m for m in messages)  # and nothing was fetched
    assert js_error(result.stdout) is not None


WIDTH_PROBE = """<script>window.addEventListener('load', () => {
  const page = document.documentElement;
  document.body.setAttribute('data-width', page.clientWidth + ' ' + page.scrollWidth);
});</script>"""


def page_width(tmp_path: Path, report: Path, window: int) -> tuple[int, int]:
    """(window width, page width) in a browser window `window` px wide: a copy of the report without its
    Content-Security-Policy (which would refuse the probe script) measures its own layout."""
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report.read_text(encoding="utf-8"))
    probe = tmp_path / f"width-{window}.html"
    probe.write_text(html.replace("</body>", WIDTH_PROBE + "</body>"), encoding="utf-8")
    result = chromium(tmp_path, probe, "--dump-dom", f"--window-size={window},900")
    found = re.search(r'data-width="(\d+) (\d+)"', result.stdout)
    assert found is not None, result.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize("window", [1280, 1024])
def test_the_report_never_scrolls_sideways(report: Path, tmp_path: Path, window: int) -> None:
    """Tables wider than the window scroll in their own box; the page itself fits (the speedup table's nowrap
    headers once made the page 1450 px wide in a 1300 px window)."""
    client, scroll = page_width(tmp_path, report, window)
    assert scroll <= client, f"the page is {scroll} px wide in a {client} px window"
