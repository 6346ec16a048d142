"""Serving-load views: latency vs achieved QPS curves with the knee, capacity and tune tables.

Load cells (a `load_point`) are not timing-loop cells: `split_runs` takes them out of the frames the
rest of the report aggregates and keeps them, with the "capacity" and "tune" records, in `Runs.serving`
as {"kind": "load_cell", ...} rows. Everything here is plain data; reports.load_render draws it.

The knee of a curve is the highest achieved QPS whose p99 is still within twice the curve's lowest
p99: past it, queueing dominates and latency climbs steeply for little more throughput. A point that left queries
unfinished has no finite percentile past its unfinished share (`over_ms`: each of them took longer) and is no
point of a curve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.load import Runs

KNEE_FACTOR = 2.0
CURVE_KEYS = ("source", "model", "variant", "device", "batch_size", "intra_op_threads", "inter_op_threads", "config")


def split_runs(runs: Runs) -> Runs:
    """`runs` without its load cells, which move to `serving` as "load_cell" rows."""
    if runs.cells.empty or "load_point" not in runs.cells or not (runs.cells["load_point"].astype(str) != "").any():
        return runs
    is_load = (runs.cells["load_point"].astype(str) != "").to_numpy()
    rows = [_load_row(r) for r in runs.cells[is_load].to_dict("records")]
    keep = np.flatnonzero(~is_load)
    return dataclasses.replace(runs, cells=runs.cells[~is_load].reset_index(drop=True),
                               latencies=[runs.latencies[i] for i in keep], serving=[*runs.serving, *rows])


def _load_row(r: dict[str, Any]) -> dict[str, Any]:
    raw = r.get("load")
    block: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lat = block.get("latency_ns") or {}
    point = str(r["load_point"])
    return {"kind": "load_cell", "source": r["source"], "model": r["model"], "variant": r["variant"], "device": r["device"],
            "batch_size": int(r["batch_size"]), "intra_op_threads": int(r["intra_op_threads"]),
            "inter_op_threads": int(r["inter_op_threads"]), "load_point": point, "repetition": r["repetition"],
            "status": r["status"], "error": r.get("error"), "config": point.partition("@")[2],
            "scenario": block.get("scenario", point.partition(":")[0]), "target_qps": block.get("target_qps"),
            "achieved_qps": block.get("achieved_qps"), "p50_ms": _ms(lat.get("p50")), "p99_ms": _ms(lat.get("p99")),
            "observed_ms": _ms(block.get("observed_ns")), "bound_ms": _ms(block.get("bound_ns")),
            "percentile": block.get("percentile"), "slo_ms": block.get("slo_ms"), "valid": block.get("valid"),
            "stable": block.get("stable"), "passed": block.get("passed"), "phase": block.get("phase"),
            "reasons": list(block.get("reasons") or []), "issue_p99_ms": _ms((block.get("issue_delay_ns") or {}).get("p99")),
            "unfinished": int(block.get("queries_unfinished") or 0), "over_ms": _ms(block.get("unfinished_over_ns")),
            "claims_bound": isinstance(block.get("late_allowed"), int) and block["late_allowed"] >= 0}


def _ms(ns: Any) -> float | None:
    return None if ns is None else float(ns) / 1e6


def load_rows(runs: Runs) -> list[dict[str, Any]]:
    return [r for r in runs.serving if r.get("kind") == "load_cell"]


def records(runs: Runs, kind: str) -> list[dict[str, Any]]:
    return [r for r in runs.serving if r.get("kind") == kind]


@dataclass
class Curve:
    key: dict[str, Any]
    points: list[dict[str, Any]]  # ok load cells of one configuration, by achieved QPS
    knee: dict[str, Any] | None
    slo_ms: float | None

    @property
    def label(self) -> str:
        k = self.key
        return f"{k['model']} {k['variant']}" + (f" @{k['config']}" if k["config"] else "") + (
            f" b{k['batch_size']}" if k["batch_size"] != 1 else "")


def curves(runs: Runs) -> list[Curve]:
    """One curve per configuration over its server load points; repeats of a rate (fresh processes, searches)
    become one point: the medians of their achieved QPS, p50 and p99."""
    groups: dict[tuple[Any, ...], dict[float, list[dict[str, Any]]]] = {}
    for r in load_rows(runs):
        if r["status"] == "ok" and r["scenario"] == "server" and r["achieved_qps"] and r["p99_ms"] is not None:
            groups.setdefault(tuple(r[k] for k in CURVE_KEYS), {}).setdefault(float(r["target_qps"]), []).append(r)
    out = []
    for key, by_rate in groups.items():
        pts = sorted((_median_point(rows) for rows in by_rate.values()), key=lambda p: p["achieved_qps"])
        slo = next((p["slo_ms"] for p in pts if p.get("slo_ms")), None)
        out.append(Curve(dict(zip(CURVE_KEYS, key)), pts, knee(pts), slo))
    return out


def _median_point(rows: list[dict[str, Any]]) -> dict[str, Any]:
    point = dict(rows[0])
    for name in ("achieved_qps", "p50_ms", "p99_ms"):
        point[name] = float(np.median([r[name] for r in rows if r[name] is not None]))
    point["repeats"] = len(rows)
    return point


def knee(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest-QPS point whose p99 is within KNEE_FACTOR of the lowest p99 (see the module docstring)."""
    if len(points) < 2:
        return None
    floor = min(p["p99_ms"] for p in points)
    within = [p for p in points if p["p99_ms"] <= KNEE_FACTOR * floor]
    return max(within, key=lambda p: p["achieved_qps"]) if within else None


def point_rows(runs: Runs) -> Iterator[dict[str, Any]]:
    """Every load cell, ordered for a table: configuration, then rate."""
    yield from sorted(load_rows(runs), key=lambda r: (*(str(r[k]) for k in CURVE_KEYS), r["achieved_qps"] or 0.0))


def has_serving(runs: Runs) -> bool:
    return bool(runs.serving)
