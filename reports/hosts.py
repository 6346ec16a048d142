"""The host dimension of a fleet run (`infer-bench run --cluster`): which machine serves most.

A cell measured on a cluster names its target machine in the identity field `fleet_target` (and the
machine that ran it in `fleet_host`); a local cell has ''. This module turns the aggregate into a
cross-host table — samples/s and p99 per model x format x device x batch x host, with their
intervals — and a per-host environment list from the run header's "fleet", as Markdown and HTML
fragments for the report. Empty strings when no cell ran on a cluster, so local reports are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from reports.escape import html_text, md_text
from reports.tables import md_table
from reports.views import ReportData

HOST_KEYS = ("model", "variant", "device", "batch_size")
TABLE_COLUMNS = [*HOST_KEYS, "host", "status", "throughput", "throughput_ci_lo", "throughput_ci_hi",
                 "p99_ms", "p99_ci_lo_ms", "p99_ci_hi_ms", "rank"]
HEADER = ["model", "format", "device", "batch", "host", "samples/s", "95% CI", "p99 ms", "95% CI", "rank"]


def host_table(agg: pd.DataFrame) -> pd.DataFrame:
    """One row per cell and host (fleet cells only), best host first within each model/format/device/batch."""
    if agg.empty or "fleet_target" not in agg or not (agg["fleet_target"] != "").any():
        return pd.DataFrame(columns=TABLE_COLUMNS)
    frame = agg[agg["fleet_target"] != ""].drop(columns="host").rename(columns={"fleet_target": "host"})
    frame["rank"] = frame.groupby(list(HOST_KEYS))["throughput"].rank(ascending=False, method="min")
    frame = frame.sort_values([*HOST_KEYS, "rank", "host"], kind="stable", na_position="last")
    return frame[TABLE_COLUMNS].reset_index(drop=True)


def _num(value: Any, digits: int = 1) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):,.{digits}f}"


def _interval(lo: Any, hi: Any, digits: int = 1) -> str:
    return "" if pd.isna(lo) or pd.isna(hi) else f"{_num(lo, digits)} – {_num(hi, digits)}"


def _cells(r: Mapping[str, Any]) -> list[str]:
    measured = r["status"] == "ok"
    return [str(r["model"]), str(r["variant"]), str(r["device"]), str(r["batch_size"]), str(r["host"]),
            _num(r["throughput"]) if measured else str(r["status"]), _interval(r["throughput_ci_lo"], r["throughput_ci_hi"]),
            _num(r["p99_ms"], 3), _interval(r["p99_ci_lo_ms"], r["p99_ci_hi_ms"], 3),
            "" if pd.isna(r["rank"]) else str(int(r["rank"]))]


def host_environments(headers: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(host, one-line environment) for every cluster machine named in the run headers."""
    out: list[tuple[str, str]] = []
    for header in headers.values():
        for name, info in ((header.get("fleet") or {}).get("hosts") or {}).items():
            fp = info.get("fingerprint") or {}
            cpu = fp.get("cpu") or {}
            labels = ", ".join(f"{k}={v}" for k, v in sorted((info.get("labels") or {}).items()))
            out.append((str(name), f"{cpu.get('model', '?')}, {cpu.get('logical_cores', '?')} cores, "
                        f"{(fp.get('memory_bytes') or 0) / 2**30:.1f} GiB, {fp.get('os', '?')}, Python {fp.get('python', '?')}, "
                        f"TensorFlow {fp.get('tensorflow', '?')}" + (f"; labels {labels}" if labels else "")))
    return out


def markdown_section(data: ReportData) -> str:
    """'## Hosts' (cross-host table and each machine's environment), or '' for a local run."""
    table = host_table(data.agg)
    if table.empty:
        return ""
    rows = [[md_text(c) for c in _cells(r)] for r in table.to_dict("records")]
    lines = ["## Hosts", "", "Samples/s (higher is better) and p99 per host; rank 1 serves most samples/s.", "",
             md_table(HEADER, rows, "lllll" + "r" * (len(HEADER) - 5))]
    envs = host_environments(data.runs.headers)
    if envs:
        lines += ["", *(f"- **{md_text(name)}**: {md_text(text)}" for name, text in envs)]
    return "\n".join(lines)


def html_section(data: ReportData) -> str:
    """The same as an HTML <section>, or '' for a local run."""
    table = host_table(data.agg)
    if table.empty:
        return ""
    head = "".join(f"<th>{html_text(h)}</th>" for h in HEADER)
    rows = "".join("<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in _cells(r)) + "</tr>" for r in table.to_dict("records"))
    envs = "".join(f"<li><b>{html_text(n)}</b>: {html_text(t)}</li>" for n, t in host_environments(data.runs.headers))
    return (f'<section id="hosts"><h2>Hosts</h2><p>Samples/s (higher is better) and p99 per host; rank 1 serves most '
            f"samples/s.</p><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            + (f"<ul>{envs}</ul>" if envs else "") + "</section>")
