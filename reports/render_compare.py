"""Render a comparison (reports.compare.Comparison + gate result + environment differences): Markdown,
terminal, JSON.

Pure: each renderer returns a string; the CLI writes it. The Markdown fits `$GITHUB_STEP_SUMMARY`
and PR comments: the verdict first, then the regressions, then collapsible details. Every string
that came from a file (model names, variants, errors, environment values) goes through `md_text()`,
which neutralises HTML, Markdown syntax, table pipes, line breaks and @-mentions.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence

import pandas as pd

from reports.aggregate import threads_text
from reports.compare import VERDICTS, Comparison, EnvDifference, counts, like_for_like
from reports.escape import md_text
from reports.gate import GateResult
from reports.schema import jsonable
from reports.tables import md_table

ICONS = {
    "slower": "🔴",
    "failed": "❌",
    "missing": "❓",
    "inconclusive": "🟡",
    "faster": "🟢",
    "unchanged": "⚪",
    "new": "🆕",
}
HEADLINE_ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "🟡"}
PROBLEM_VERDICTS = ("slower", "failed", "missing")


# ---- formatting helpers ------------------------------------------------------------------------


def fmt_value(value: float, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if unit == "samples/s":
        return f"{value:,.1f}/s"
    for scale, name in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {name}"
    return f"{value:.0f} ns"


def fmt_change(ratio: float) -> str:
    return "–" if ratio is None or not math.isfinite(ratio) else f"{ratio - 1:+.1%}"


def fmt_ci(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return f"{low - 1:+.1%} … {high - 1:+.1%}"


def fmt_p(p: float) -> str:
    return "–" if p is None or not math.isfinite(p) else f"{p:.3g}"


def fmt_mde(mde: float) -> str:
    if mde is None or (isinstance(mde, float) and math.isnan(mde)):
        return "–"
    return "none reachable" if math.isinf(mde) else f"{mde:.0%}"


def cell_label(row: pd.Series) -> str:
    """model · variant · device · batch, then only the settings that are not defaults (raw text)."""
    parts = [str(row["model"]), str(row["variant"]), str(row["device"]), f"b{row['batch_size']}"]
    if row["intra_op_threads"] or row["inter_op_threads"]:
        parts.append(threads_text(int(row["intra_op_threads"]), int(row["inter_op_threads"])))
    for name in ("env_toggles", "affinity", "python"):
        if row[name]:
            parts.append(str(row[name]))
    return " · ".join(parts)


def _procs(row: pd.Series) -> str:
    """Processes per side, and the pairs formed of them in paired mode."""
    text = f"{int(row['n_baseline'])}/{int(row['n_current'])}"
    pairs = row.get("pairs")
    return text if pairs is None or pd.isna(pairs) else f"{text} ({int(pairs)} pairs)"


def _p_holm(row: pd.Series) -> float:
    return float(row["p_faster_holm"] if row["verdict"] == "faster" else row["p_slower_holm"])


def headline(frame: pd.DataFrame, result: GateResult) -> str:
    """One line: the gate's verdict and what made it."""
    found = counts(frame)
    shown = [f"{found[v]} {v}" for v in VERDICTS if found[v]]
    return f"{result.verdict.upper()}: " + (", ".join(shown) if shown else "nothing compared") + f" (of {len(frame)} cells)"


def settings_line(comparison: Comparison) -> str:
    s = comparison.settings
    line = (
        f"metric {s.metric} · threshold {s.threshold:.0%} · alpha {s.alpha} one-sided, "
        f"Holm over {comparison.family_size} tested cells · unit of evidence: the worker process"
    )
    if not s.paired:
        return line
    return line + f" · paired by round ({len(comparison.rounds)} rounds: " + ", ".join(
        f"{b} ↔ {c}" for b, c in comparison.rounds) + ")"


def sensitivity_line(comparison: Comparison) -> str:
    """How small a change this comparison could have seen."""
    from reports.gate import repetitions_advice

    mde = comparison.frame["mde"].dropna()
    if mde.empty:
        return "No cell was measured on both sides, so nothing about sensitivity can be said."
    finite = mde[mde.map(math.isfinite)]
    t = comparison.threshold
    worst = "none reachable for some cells" if len(finite) < len(mde) else f"{finite.max():.0%}"
    best = f"{finite.median():.0%}" if len(finite) else "none reachable"
    seen = int((mde <= t).sum())
    text = (f"Smallest detectable slowdown (80% power): median {best}, worst {worst}. "
            f"{seen} of {len(mde)} measured cells could see a {t:.0%} slowdown")
    if seen == len(mde):
        return text + "."
    return text + f"; {repetitions_advice(comparison)}."


# ---- Markdown -----------------------------------------------------------------------------------


def _md_problem_rows(frame: pd.DataFrame) -> list[list[str]]:
    problems = frame[frame["verdict"].isin(PROBLEM_VERDICTS)]
    order = problems["verdict"].map(PROBLEM_VERDICTS.index)
    problems = problems.assign(_order=order).sort_values(["_order", "ratio"], ascending=[True, False])
    return [_md_cells(r, f"**{fmt_change(r['ratio'])}**", []) for _, r in problems.iterrows()]


def _md_detail_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [_md_cells(r, fmt_change(r["ratio"]), [_procs(r), fmt_mde(r["mde"])])
            for _, r in frame.iterrows()]


def _md_cells(r: pd.Series, change: str, extra: list[str]) -> list[str]:
    """One cell's Markdown row: label, verdict, values, change, interval, p, `extra`, note."""
    return [md_text(cell_label(r)), f"{ICONS[r['verdict']]} {r['verdict']}", fmt_value(r["baseline_value"], r["unit"]),
            fmt_value(r["current_value"], r["unit"]), change, fmt_ci(r["ci_low"], r["ci_high"]), fmt_p(_p_holm(r)),
            *extra, md_text(r["note"]) if r["note"] else ""]


def _md_env(differences: Sequence[EnvDifference]) -> list[str]:
    if not differences:
        return ["Environments match (every fingerprint entry is the same)."]
    rows = [[md_text(d.key), md_text(", ".join(d.baseline)), md_text(", ".join(d.current)),
             "expected" if d.informational else "**differs**"] for d in differences]
    return md_table(["entry", "baseline", "current", ""], rows).splitlines()


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def render_markdown(comparison: Comparison, result: GateResult, differences: Sequence[EnvDifference] = ()) -> str:
    """The comparison as GitHub-flavoured Markdown: verdict, regressions, details."""
    frame = comparison.frame
    lines = [f"### {HEADLINE_ICONS[result.verdict]} infer-bench regression check — {md_text(headline(frame, result))}", ""]
    lines += [f"_{md_text(settings_line(comparison))}_", ""]
    if not like_for_like(differences):
        keys = ", ".join(md_text(d.key) for d in differences if not d.informational)
        lines += [f"> ⚠️ **Not like-for-like:** the environments differ ({keys}); a difference may come "
                  "from the environment, not the code. See _Environment differences_ below.", ""]
    for message in result.messages("problem") + result.messages("inconclusive"):
        lines.append(f"- {md_text(message)}")
    lines += ["", md_text(sensitivity_line(comparison)), ""]
    problems = _md_problem_rows(frame)
    if problems:
        lines += ["#### Regressions", ""]
        lines += md_table(["cell", "verdict", "baseline", "current", "change", "95% CI", "p (Holm)", "note"], problems).splitlines()
        lines.append("")
    detail = md_table(["cell", "verdict", "baseline", "current", "change", "95% CI", "p (Holm)",
                       "processes", "detectable", "note"], _md_detail_rows(frame)).splitlines()
    lines += _details(f"All {len(frame)} cells", detail)
    lines += _details("Environment differences", _md_env(differences))
    warnings = [f"- {md_text(m)}" for m in result.messages("warning")]
    method = METHOD_PAIRED if comparison.settings.paired else METHOD
    lines += _details("How to read this", [*warnings, "", md_text(method)])
    return "\n".join(lines)


VERDICT_RULES = (
    "slower/faster need significance and a change beyond the threshold; unchanged needs the interval inside the "
    "threshold. 'detectable' is the smallest slowdown the comparison would catch with 80% power."
)

METHOD = (
    "Each cell's value pools the samples of its worker processes. The change is current vs baseline "
    "(positive = slower). The 95% interval is a seeded bootstrap that resamples processes, then samples. "
    "Significance is a one-sided Mann-Whitney U test on one value per worker process, Holm-corrected across "
    "cells. " + VERDICT_RULES
)

METHOD_PAIRED = (
    "Paired by round: the k-th baseline run and the k-th current run form a round, and within a cell the "
    "baseline process of each round and repetition is paired with the current one, so drift between rounds "
    "falls on both members of a pair. The change is the geometric mean of the per-pair ratios (positive = "
    "slower) with a Student-t 95% interval on their logs. Significance is a one-sided Wilcoxon signed-rank "
    "test on the per-pair log ratios, Holm-corrected across cells. " + VERDICT_RULES
)


# ---- terminal ------------------------------------------------------------------------------------


def render_terminal(comparison: Comparison, result: GateResult, differences: Sequence[EnvDifference] = (),
                    width: int = 120, color: bool = False) -> str:
    """A rich table and the findings, as text (colour only when asked)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=width, color_system="standard" if color else None,
                      force_terminal=color, highlight=False)
    frame = comparison.frame
    console.print(f"[bold]{escape(headline(frame, result))}[/bold]")
    console.print(escape(settings_line(comparison)))
    if not like_for_like(differences):
        console.print("[bold yellow]warning: not like-for-like:[/bold yellow] " + escape(
            "; ".join(f"{d.key}: {', '.join(d.baseline)} -> {', '.join(d.current)}" for d in differences if not d.informational)))
    table = Table(show_lines=False)
    for name in ("cell", "verdict", "baseline", "current", "change", "95% CI", "p (Holm)", "procs", "detectable"):
        table.add_column(name, overflow="fold")
    for _, r in frame.iterrows():
        table.add_row(escape(cell_label(r)), r["verdict"], fmt_value(r["baseline_value"], r["unit"]),
                      fmt_value(r["current_value"], r["unit"]), fmt_change(r["ratio"]),
                      fmt_ci(r["ci_low"], r["ci_high"]), fmt_p(_p_holm(r)),
                      _procs(r), fmt_mde(r["mde"]))
    console.print(table)
    for f in result.findings:
        console.print(f"{f.severity}: {escape(f.message)}")
    for _, r in frame[frame["note"].astype(bool)].iterrows():
        console.print(f"note: {escape(cell_label(r))}: {escape(' '.join(str(r['note']).split()))}")
    console.print(escape(sensitivity_line(comparison)))
    return out.getvalue()


# ---- JSON ------------------------------------------------------------------------------------------


def render_json(comparison: Comparison, result: GateResult, differences: Sequence[EnvDifference] = ()) -> str:
    """Machine-readable comparison; non-finite numbers become null (an unreachable mde: mde null)."""
    frame = comparison.frame
    document = {
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "findings": [{"severity": f.severity, "message": f.message} for f in result.findings],
        "settings": {k: jsonable(v) for k, v in comparison.settings_dict().items()},
        "counts": counts(frame),
        "like_for_like": like_for_like(differences),
        "env_differences": [{"key": d.key, "baseline": list(d.baseline), "current": list(d.current),
                             "informational": d.informational} for d in differences],
        "cells": [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")],
    }
    return json.dumps(document, indent=2, allow_nan=False)
