"""The one HTML document of every page infer-bench writes (the report, `profile --html`, dashboards).

One self-contained file: the CSS of `report.css` inline, no network, no script but the inline error
hook (allowed by its hash, so a headless browser test can read script errors off the page). The
Content-Security-Policy forbids every fetch and every other script, so even a string from a model
file that escaped escaping could neither run nor call home (DESIGN.md, Security).
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources

from reports.escape import html_text

ERROR_HOOK = (
    "window.addEventListener('error',function(e){document.documentElement"
    ".setAttribute('data-js-error',String(e.message||e.type))},true);"
)


@cache
def report_css() -> str:
    """The shared stylesheet (reports/report.css, shipped as package data)."""
    return resources.files("reports").joinpath("report.css").read_text(encoding="utf-8")


def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(ERROR_HOOK.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"


def html_document(title: str, body: str, extra_css: str = "") -> str:
    """A whole HTML page: `title` is plain text (escaped here), `body` is HTML placed inside <main>,
    `extra_css` is appended to the shared stylesheet."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html_text(title)}</title>\n<script>{ERROR_HOOK}</script>\n"
        f"<style>{report_css()}{extra_css}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
