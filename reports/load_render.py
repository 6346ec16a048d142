"""Serving-load sections of the report (Markdown, terminal, HTML with plots); '' when a run has no load data.

Latency (p50 dashed, p99 solid) against achieved QPS per configuration, the SLO as a dotted line, each
curve's knee as a star (reports.load_views.knee); the capacity table (with the range of the fresh processes'
estimates, min to max, and which rule a step passed on); the tune table with the winner's TF Serving text and its
gain over single-stream batch 1. A percentile that falls on an unfinished query reads "> X" (X: what every
unfinished query is known to exceed). Every string from a record is escaped.
"""

from __future__ import annotations

from typing import Any

from reports import numbers as fmt
from reports.escape import html_text as esc
from reports.escape import md_code_block, md_text
from reports.load_views import Curve, curves, has_serving, point_rows, records
from reports.tables import md_table

MAX_POINT_ROWS = 200

CAPACITY_HEAD = ("model", "format", "SLO", "capacity QPS", "range over processes", "passes on", "best p seen")
TUNE_HEAD = ("rank", "candidate", "score", "range", "rounds")
POINT_HEAD = ("model", "format", "executor", "load point", "achieved QPS", "p50 ms", "p99 ms", "p bound ms", "valid", "passed", "why not")


def _estimates_text(r: dict[str, Any]) -> str:
    """"380–420 (3)": min to max of the processes' estimates; "(2 of 3)" when a process found no rate within the SLO."""
    span = r.get("range")
    estimates = r.get("estimates") or []
    found = [e for e in estimates if e is not None]
    if not span:
        return "–"
    count = f"{len(found)}" if len(found) == len(estimates) else f"{len(found)} of {len(estimates)}"
    return f"{fmt.rate(span[0])}–{fmt.rate(span[1])} ({count})"


def _capacity_cells(r: dict[str, Any]) -> list[str]:
    best = r.get("best_observed_ns")
    return [str(r.get("model")), str(r.get("variant")), f"p{r.get('percentile', 99):g} <= {r.get('slo_ms'):g} ms",
            fmt.rate(r.get("capacity_qps")) if r.get("capacity_qps") else "SLO not met", _estimates_text(r),
            "observed percentile" if r.get("rule") == "observed" else "99% confidence bound",
            fmt.ms(best / 1e6 if best is not None else None) + " ms"]


def _tune_cells(i: int, row: dict[str, Any], objective: str) -> list[str]:
    score, span = row.get("score"), row.get("range")
    if objective == "p99":
        text = fmt.ms(-score) + " ms" if score is not None else "invalid"
        shown = f"{fmt.ms(-span[1])}–{fmt.ms(-span[0])} ms" if span else "–"
    else:
        text = fmt.rate(score) + " QPS" if score else "SLO not met"
        shown = f"{fmt.rate(span[0])}–{fmt.rate(span[1])}" if span else "–"
    return [str(i + 1), str(row.get("label")), text, shown, str(row.get("rounds"))]


def _latency(r: dict[str, Any], key: str) -> str:
    """A percentile in ms, or "> X" where it falls on an unfinished query (its latency is over X ms)."""
    if r[key] is None and r.get("unfinished") and (key != "bound_ms" or r.get("claims_bound")):  # else: too few queries
        return f"> {fmt.ms(r.get('over_ms'))}"
    return fmt.ms(r[key])


def _point_cells(r: dict[str, Any]) -> list[str]:
    valid = "–" if r["valid"] is None else ("yes" if r["valid"] else "no")
    passed = "–" if r["passed"] is None else ("yes" if r["passed"] else "no")
    return [str(r["model"]), str(r["variant"]), r["config"] or "1 thread", r["load_point"].partition("@")[0],
            fmt.rate(r["achieved_qps"]), _latency(r, "p50_ms"), _latency(r, "p99_ms"), _latency(r, "bound_ms"), valid,
            passed, "; ".join(r["reasons"])[:160] or (r["error"] or "")[:160]]


def _tune_summary(t: dict[str, Any]) -> str:
    w = t.get("winner")
    if not w:
        return f"No candidate met p{t['percentile']:g} <= {t['slo_ms']:g} ms."
    gain = t.get("gain")
    base = t.get("baseline_qps")
    vs = (f"{gain:.2f}× the single-stream batch-1 throughput ({fmt.rate(base)} QPS)" if gain
          else "single-stream batch 1 does not meet the SLO" if base == 0 else "no baseline")
    return f"Best: {w['label']} — {vs}."


def _tables(data: Any) -> tuple[list[list[str]], list[tuple[dict[str, Any], list[list[str]]]], list[list[str]]]:
    runs = data.runs
    cap = [_capacity_cells(r) for r in records(runs, "capacity")]
    tunes = [(t, [_tune_cells(i, row, t.get("objective", "qps")) for i, row in enumerate(t.get("rows") or [])])
             for t in records(runs, "tune")]
    points = [_point_cells(r) for r in point_rows(runs)]
    return cap, tunes, points


# ---------------------------------------------------------------- Markdown


def _md_table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    """Plain-text head and cells, escaped here, through the one Markdown table writer."""
    return md_table([md_text(h) for h in head], [[md_text(c) for c in row] for row in rows])


def markdown_section(data: Any) -> str:
    """The serving section of report.md ('' without load data)."""
    if not has_serving(data.runs):
        return ""
    cap, tunes, points = _tables(data)
    parts = ["## Serving load and capacity"]
    if cap:
        parts += ["### Capacity at the SLO", _md_table(CAPACITY_HEAD, cap)]
    for t, rows in tunes:
        parts += [f"### Tune: {md_text(t.get('model'))}", md_text(_tune_summary(t)), _md_table(TUNE_HEAD, rows)]
        if t.get("batching_parameters"):
            parts.append(md_code_block(t["batching_parameters"]))
    if points:
        parts += ["### Load points", _md_table(POINT_HEAD, points[:MAX_POINT_ROWS])]
        if len(points) > MAX_POINT_ROWS:
            parts.append(f"_{len(points) - MAX_POINT_ROWS} more load points in report.html._")
    return "\n\n".join(parts)


# ---------------------------------------------------------------- terminal


def _text_table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    """Columns as wide as their widest cell: a terminal table never cuts a number."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    return "\n".join([line] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows])


def term_section(data: Any) -> str:
    """The serving section for the terminal ('' without load data)."""
    if not has_serving(data.runs):
        return ""
    cap, tunes, points = _tables(data)
    parts = ["Serving load and capacity"]
    if cap:
        parts += ["Capacity at the SLO", _text_table(CAPACITY_HEAD, cap)]
    for t, rows in tunes:
        parts += [f"Tune: {t.get('model')}", _tune_summary(t), _text_table(TUNE_HEAD, rows[:10])]
    if points:
        parts += ["Load points", _text_table(POINT_HEAD[:10], [p[:10] for p in points[:40]])]
    return "\n\n".join(parts)


# ---------------------------------------------------------------- HTML


def _html_table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def curve_plot(model: str, cs: list[Curve]) -> str:
    """Latency vs achieved QPS for one model's configurations (server points; repeats of a rate as their
    medians): p99 solid, p50 dashed, SLO dotted, knee starred."""
    from reports.plots import PALETTE, _figure, _legend, to_svg

    with _figure(width=9.0, height=4.0, legend_in=2.6) as (fig, axes):
        ax = axes[0]
        for i, c in enumerate(cs):
            colour = PALETTE[i % len(PALETTE)]
            x = [p["achieved_qps"] for p in c.points]
            ax.plot(x, [p["p99_ms"] for p in c.points], marker="o", ms=3, color=colour, label=f"{c.label} p99")
            ax.plot(x, [p["p50_ms"] for p in c.points], ls="--", color=colour, alpha=0.7, label=f"{c.label} p50")
            if c.knee is not None:
                ax.plot([c.knee["achieved_qps"]], [c.knee["p99_ms"]], marker="*", ms=12, color=colour, ls="none")
        slo = next((c.slo_ms for c in cs if c.slo_ms), None)
        if slo:
            ax.axhline(slo, color="black", lw=1, ls=":", label=f"SLO {slo:g} ms")
        ax.set_yscale("log")
        ax.set_xlabel("achieved QPS")
        ax.set_ylabel("latency from scheduled arrival (ms, log)")
        ax.set_title(f"{model}: latency vs throughput (star = knee)", loc="left")
        _legend(ax, 2 * len(cs) + 1)
        return to_svg(fig)


def _plots(data: Any) -> str:
    by_model: dict[str, list[Curve]] = {}
    for c in curves(data.runs):
        if len(c.points) >= 2:
            by_model.setdefault(str(c.key["model"]), []).append(c)
    return "".join(f'<figure class="plot" data-plot="serving">{curve_plot(m, cs[:10])}</figure>' for m, cs in by_model.items())


def html_section(data: Any) -> str:
    """The serving section of report.html ('' without load data)."""
    if not has_serving(data.runs):
        return ""
    cap, tunes, points = _tables(data)
    parts = ['<section id="serving"><h2>Serving load and capacity</h2>', _plots(data)]
    if cap:
        parts += ["<h3>Capacity at the SLO</h3>", _html_table(CAPACITY_HEAD, cap)]
    for t, rows in tunes:
        parts += [f"<h3>Tune: {esc(t.get('model'))}</h3>", f"<p>{esc(_tune_summary(t))}</p>", _html_table(TUNE_HEAD, rows)]
        if t.get("batching_parameters"):
            parts.append(f"<pre>{esc(t['batching_parameters'])}</pre>")
    if points:
        parts += ["<details><summary>Every load point</summary>", _html_table(POINT_HEAD, points), "</details>"]
    parts.append("</section>")
    return "\n".join(parts)
