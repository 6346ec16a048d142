"""The one Markdown table writer and the one HTML table writer of every report and page.

Cells go in already escaped for their medium (`escape.md_text`, `escape.html_text`): a writer
cannot know which cells hold markup of their own (a bold speedup, a coloured chip), so escaping
stays with the caller, who knows where each string came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NUMERIC_CLASS = "n"  # report.css right-aligns `td.n`/`th.n`; the one class name for numeric columns


@dataclass(frozen=True)
class Row:
    """An HTML table row with a CSS class (the report's "group" draws a rule above a new group)."""

    cells: Sequence[str]
    css_class: str = ""


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table. `align`: one letter per column, "r" right or "l" left
    (missing letters: left). Header and cells must already be escaped.

    GitHub renders a table only when its delimiter row has as many cells as its header, and shows a row's extra
    cells nowhere: a letter or a cell beyond the header is a bug of the caller, refused here."""
    if len(align) > len(header):
        raise ValueError(f"{len(align)} alignment letters for {len(header)} columns: {align!r}")
    marks = [("---:" if a == "r" else ":---") for a in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def html_table(header: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str] | Row], caption: str = "",
               css_class: str = "") -> str:
    """An HTML table. header: (label, numeric) per column; numeric columns get class "n" (right-aligned).
    Labels, cells and the caption must already be escaped HTML."""
    numeric = [n for _, n in header]
    head = "".join(_cell("th", label, n) for label, n in header)
    body = []
    for row in rows:
        cells, cls = (row.cells, row.css_class) if isinstance(row, Row) else (row, "")
        tds = "".join(_cell("td", c, n) for c, n in zip(cells, numeric, strict=True))
        body.append(f'<tr class="{cls}">{tds}</tr>' if cls else f"<tr>{tds}</tr>")
    opening = f'<table class="{css_class}">' if css_class else "<table>"
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"{opening}{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(tag: str, content: str, numeric: bool) -> str:
    return f'<{tag} class="{NUMERIC_CLASS}">{content}</{tag}>' if numeric else f"<{tag}>{content}</{tag}>"
