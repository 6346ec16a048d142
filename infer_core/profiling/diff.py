"""Profile diff: two op profiles side by side, per op type and per op. Pure: no TensorFlow.

Ops are matched by node name, op types by type name. A ratio is after / before (above 1: slower
after), None where either side is zero or absent; ops present on one side only are listed
separately, because that is usually the answer ("the checkpoint reads its variables every step").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _ratio(before: float | None, after: float | None) -> float | None:
    return after / before if before and after else None


def _rows(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    rows = []
    for name in before.keys() | after.keys():
        b, a = before.get(name), after.get(name)
        b_s, a_s = (b["time_s"] if b else None), (a["time_s"] if a else None)
        row = {key: name, "before_s": b_s, "after_s": a_s, "ratio": _ratio(b_s, a_s),
               "delta_s": (a_s or 0.0) - (b_s or 0.0),
               "side": "both" if b and a else ("before" if b else "after")}
        if key == "name":
            row["type"] = (a or b or {}).get("type")
        rows.append(row)
    rows.sort(key=lambda r: (-max(r["before_s"] or 0.0, r["after_s"] or 0.0), r[key]))
    return rows


def _ops_by_name(ops: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ops keyed by name; the same name on several devices is summed."""
    merged: dict[str, dict[str, Any]] = {}
    for op in ops:
        m = merged.setdefault(op["name"], {"name": op["name"], "type": op["type"], "time_s": 0.0})
        m["time_s"] += op["time_s"]
    return merged


def diff_profiles(before: dict[str, Any], after: dict[str, Any], before_label: str = "before",
                  after_label: str = "after") -> dict[str, Any]:
    """{"before", "after" (labels), "step", "ops_total", "by_type", "ops", "only_before", "only_after"}."""
    ops = _rows(_ops_by_name(before.get("ops", [])), _ops_by_name(after.get("ops", [])), "name")
    types = _rows({r["type"]: r for r in before.get("by_type", [])},
                  {r["type"]: r for r in after.get("by_type", [])}, "type")
    return {
        "kind": "profile_diff", "before": before_label, "after": after_label,
        "step": _total(before.get("step_s"), after.get("step_s")),
        "ops_total": _total(before.get("ops_total_s"), after.get("ops_total_s")),
        "by_type": types, "ops": ops,
        "only_before": [r for r in ops if r["side"] == "before"],
        "only_after": [r for r in ops if r["side"] == "after"],
        "types_only_before": sorted(r["type"] for r in types if r["side"] == "before"),
        "types_only_after": sorted(r["type"] for r in types if r["side"] == "after"),
    }


def _total(before: float | None, after: float | None) -> dict[str, float | None]:
    return {"before_s": before, "after_s": after, "ratio": _ratio(before, after)}
