"""Escaping of every string that came from a model or a file (paths, tensor/op names, error text).

A model path or an error message containing `<script>` or `|` must show as text in HTML and
Markdown and break nothing (DESIGN.md, Security).
"""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # special anywhere in a line
_MD_BLOCK_MARK = re.compile(r"^(\s*)([#+\-=>])")  # special only where a block starts
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])")  # "1." starts an ordered list


def html_text(value: object) -> str:
    """Text for HTML element content or a quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(value: object) -> str:
    """Text for a Markdown paragraph or a table cell, on one line.

    HTML-significant characters become entities (GitHub would otherwise take `<script>` as HTML),
    Markdown punctuation is backslash-escaped (so `|` cannot end a table cell, `*` cannot start
    emphasis, `[` cannot start a link; `(` is then harmless), a leading `#`, `-`, `>` or `1.` cannot
    start a block, line breaks become spaces (a newline would end a table row), and `@` becomes
    an entity, so `@name` in a model path or an error cannot notify anyone when a report or a
    comparison is pasted into a PR comment. Every Markdown output escapes through here.
    """
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n]+", " ", text)
    text = html.escape(text, quote=False).replace("@", "&#64;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_BLOCK_MARK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _MD_ORDERED.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_code_block(value: object) -> str:
    """A fenced code block that shows `value` verbatim: the fence is longer than any backtick run in it."""
    text = "" if value is None else str(value)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"
