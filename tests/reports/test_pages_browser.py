"""The shared page in headless Chromium: `profile --html` loads with no console message under the
Content-Security-Policy, and the numbers in profile tables are right-aligned as in the report's
other tables (they were left-aligned: the tables said class="num", the CSS styled `.n`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from test_pages import profile
from test_reports_browser import CHROMIUM, chromium, console_messages, js_error

from bench.cli.profile import html_page
from reports import profiles
from reports.page import content_security_policy

pytestmark = pytest.mark.browser

# Written into the DOM by a probe script (the page's own CSP would block it: the probe copy drops it).
PROBE = ("<script>document.querySelectorAll('table.profile td').forEach(function(td){"
         "td.setAttribute('data-align',getComputedStyle(td).textAlign)});</script>")


@pytest.fixture(autouse=True)
def _chromium(require_service: Callable[[bool, str], None]) -> None:
    require_service(CHROMIUM is not None, "headless chromium not installed (apt-get install -y chromium)")


def test_profile_page_loads_clean_and_aligns_numbers_right(tmp_path: Path) -> None:
    page = html_page("infer-bench profile: m", profiles.profile_html(profile()))
    path = tmp_path / "profile.html"
    path.write_text(page, encoding="utf-8")
    result = chromium(tmp_path, path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == [] and js_error(result.stdout) is None
    probe = tmp_path / "probe.html"
    csp = f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
    probe.write_text(page.replace(csp, "").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, probe, "--dump-dom").stdout
    cells = re.findall(r'<td( class="n")? data-align="(\w+)">', dom)
    assert cells, dom[-2000:]
    assert {align for numeric, align in cells if numeric} == {"right"}
    assert {align for numeric, align in cells if not numeric} == {"left"}
