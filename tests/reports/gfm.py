"""Markdown tables as GitHub renders them: markdown-it-py's GFM table rule, checked against the source lines.

GitHub shows a table only when its delimiter row has as many cells as its header; otherwise the lines print as
text, with their pipes. And in a table it does render, a row's cells beyond the header are dropped and missing
ones are left blank without a word. `tables_of` finds every table the parser recognises and counts each source
row's cells the way GFM splits them (on pipes not escaped with a backslash, code spans included), and
`assert_tables_render` fails on any line that looks like a table row but is in no table, and on any row whose
count differs from its header's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

# CommonMark with GFM's tables and strikethrough: the "gfm-like" preset without its autolinks (which need
# linkify-it-py, and change no table)
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_PIPE = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Table:
    """A table the GFM parser recognised: its header cells (as parsed) and each body row's cell count in the source."""

    first_line: int  # 0-based line of the header row in the Markdown text
    header: list[str]
    row_cells: list[int]


def source_cells(line: str) -> int:
    """How many cells GFM splits a table row into: pipes not escaped by a backslash separate cells; a leading and
    a trailing pipe only delimit the row."""
    text = line.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return len(_PIPE.split(text))


def tables_of(markdown: str) -> tuple[list[Table], list[str]]:
    """(the tables GitHub would render, the lines that start with a pipe outside every table and code block)."""
    tokens = _PARSER.parse(markdown)
    lines = markdown.splitlines()
    covered: set[int] = set()
    tables = []
    for i, token in enumerate(tokens):
        if token.map is not None and token.type in ("table_open", "fence", "code_block"):
            covered.update(range(*token.map))
        if token.type != "table_open" or token.map is None:
            continue
        start, end = token.map
        header = []
        for inner in tokens[i + 1:]:
            if inner.type == "thead_close":
                break
            if inner.type == "inline":
                header.append(inner.content)
        tables.append(Table(start, header, [source_cells(lines[n]) for n in range(start + 2, end) if lines[n].strip()]))
    stray = [lines[n] for n in range(len(lines)) if n not in covered and lines[n].lstrip().startswith("|")]
    return tables, stray


def assert_tables_render(markdown: str, at_least: int = 1) -> list[Table]:
    """Every table-looking line is part of a rendered table, each row has as many cells as its header, and there
    are at least `at_least` tables; the tables back, for more checks."""
    tables, stray = tables_of(markdown)
    assert not stray, f"lines GitHub would print as text, not as a table: {stray[:3]}"
    for table in tables:
        assert table.header, f"a table without header cells at line {table.first_line + 1}"
        wrong = [n for n in table.row_cells if n != len(table.header)]
        assert not wrong, (f"table at line {table.first_line + 1} ({table.header}) has {len(table.header)} header "
                           f"cells but rows of {wrong}")
    assert len(tables) >= at_least, f"{len(tables)} tables, expected at least {at_least}"
    return tables
