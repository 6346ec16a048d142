"""Profile diff: two op profiles side by side, per op type and per op. Pure: no TensorFlow.

Ops are matched by node name and op type (a variable handle and the constant that replaced it
are different ops), op types by type name. A ratio is after / before (above 1: slower
after), None where either side is zero or absent; ops present on one side only are listed
separately, because that is usually the answer ("the checkpoint reads its variables every step").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _ratio(before: float | None, after: float | None) -> float | None:
    return after / before if before and after else None


def _row(b: dict[str, Any] | None, a: dict[str, Any] | None) -> dict[str, Any]:
    b_s, a_s = (b["time_s"] if b else None), (a["time_s"] if a else None)
    return {"before_s": b_s, "after_s": a_s, "ratio": _ratio(b_s, a_s), "delta_s": (a_s or 0.0) - (b_s or 0.0),
            "side": "both" if b and a else ("before" if b else "after")}


def _rows(before: dict[Any, dict[str, Any]], after: dict[Any, dict[str, Any]], fields: tuple[str, ...]
          ) -> list[dict[str, Any]]:
    """One row per key on either side; `fields` name the key's parts (("type",) or ("name", "type"))."""
    rows = []
    for key in before.keys() | after.keys():
        parts = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(fields, parts, strict=True)), **_row(before.get(key), after.get(key))})
    rows.sort(key=lambda r: (-max(r["before_s"] or 0.0, r["after_s"] or 0.0), *[str(r[f]) for f in fields]))
    return rows


def _ops_by_key(ops: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Ops keyed by (name, type): a Const and a VarHandleOp of the same name are different ops.
    The same op on several devices is summed."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for op in ops:
        m = merged.setdefault((op["name"], op["type"]), {"time_s": 0.0})
        m["time_s"] += op["time_s"]
    return merged


def diff_profiles(before: dict[str, Any], after: dict[str, Any], before_label: str = "before",
                  after_label: str = "after") -> dict[str, Any]:
    """{"before", "after" (labels), "step", "ops_total", "by_type", "ops", "only_before", "only_after"}."""
    ops = _rows(_ops_by_key(before.get("ops", [])), _ops_by_key(after.get("ops", [])), ("name", "type"))
    types = _rows({r["type"]: r for r in before.get("by_type", [])},
                  {r["type"]: r for r in after.get("by_type", [])}, ("type",))
    return {
        "kind": "profile_diff", "before": before_label, "after": after_label,
        "processes": min(before.get("processes", 1), after.get("processes", 1)),
        "step": _total(before.get("step_s"), after.get("step_s")),
        "ops_total": _total(before.get("ops_total_s"), after.get("ops_total_s")),
        "by_type": types, "ops": ops,
        "only_before": [r for r in ops if r["side"] == "before"],
        "only_after": [r for r in ops if r["side"] == "after"],
        "types_only_before": sorted(r["type"] for r in types if r["side"] == "before"),
        "types_only_after": sorted(r["type"] for r in types if r["side"] == "after"),
        "achieved": {"before": before.get("achieved"), "after": after.get("achieved")},
        "notes": _notes(before, after, before_label, after_label),
    }


def _notes(before: dict[str, Any], after: dict[str, Any], before_label: str, after_label: str) -> list[str]:
    notes = []
    for profile, label in ((before, before_label), (after, after_label)):
        if profile.get("source") == "tflite_op_list":
            notes.append(f"{label} is TFLite: no per-op times, so only its step compares")
        elif profile.get("source") == "frozen_concrete_function":
            notes.append(f"{label}: op times from its concrete function frozen into a Session")
    return notes


def _total(before: float | None, after: float | None) -> dict[str, float | None]:
    return {"before_s": before, "after_s": after, "ratio": _ratio(before, after)}
