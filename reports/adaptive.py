"""How far each ratio of a run is known: the test that ends an adaptive run (`repetitions = "auto"`).

A ratio is a cell over its panel's baseline at the same batch size (every format over the checkpoint,
or over the first format present) and every idiomatic call over its own fastest path. Its interval is a
Student-t interval on the logs of the per-process ratios (`stats.log_t_interval`), paired inside each
worker process where both cells shared one (interleaved), else by round. Pure: records in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reports import stats
from reports.schema import IDENTITY_FIELDS, VARIANTS

PANEL = tuple(f for f in IDENTITY_FIELDS if f not in ("variant", "call"))


@dataclass(frozen=True)
class RatioWidth:
    """One ratio of the run: what it compares, how many paired processes, its half-width (±fraction), and the
    processes a ±target interval would take at the spread seen (None: more than the cap, or no spread yet)."""

    label: str
    pairs: int
    half_width: float
    needed: int | None = None

    def reached(self, target: float, min_pairs: int) -> bool:
        return self.pairs >= min_pairs and self.half_width <= target


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def per_process(records: Iterable[Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[int, tuple[Any, float]]]:
    """cell identity -> repetition -> (worker pid, median ns), for ok cells with samples."""
    out: dict[tuple[Any, ...], dict[int, tuple[Any, float]]] = {}
    for r in records:
        if r.get("status") == "ok" and r.get("latencies_ns"):
            key = tuple(r.get(f, "fastest" if f == "call" else None) for f in IDENTITY_FIELDS)
            pid = (r.get("worker") or {}).get("pid")
            out.setdefault(key, {})[int(r.get("repetition") or 0)] = (pid, _median(list(r["latencies_ns"])))
    return out


def _pairs(cells: Mapping[tuple[Any, ...], Mapping[int, tuple[Any, float]]]) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(numerator, baseline) identities: formats over the panel's baseline, idiomatic over fastest."""
    index = {name: i for i, name in enumerate(IDENTITY_FIELDS)}
    by_panel: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for key in cells:
        by_panel.setdefault(tuple(key[index[f]] for f in PANEL), []).append(key)
    pairs = []
    for keys in by_panel.values():
        fastest = {k[index["variant"]]: k for k in keys if k[index["call"]] == "fastest"}
        order = sorted(fastest, key=lambda v: VARIANTS.index(v) if v in VARIANTS else len(VARIANTS))
        if order:
            base = fastest["checkpoint"] if "checkpoint" in fastest else fastest[order[0]]
            pairs += [(fastest[v], base) for v in order if fastest[v] != base]
        pairs += [(k, fastest[k[index["variant"]]]) for k in keys
                  if k[index["call"]] != "fastest" and k[index["variant"]] in fastest]
    return pairs


def _label(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
    ident = dict(zip(IDENTITY_FIELDS, a, strict=True))
    other = dict(zip(IDENTITY_FIELDS, b, strict=True))
    left = ident["variant"] if ident["call"] == "fastest" else f"{ident['variant']} {ident['call']}"
    right = other["variant"] if other["call"] == "fastest" else f"{other['variant']} {other['call']}"
    return f"{ident['model']} b{ident['batch_size']}: {left}/{right}"


def ratio_widths(records: Iterable[Mapping[str, Any]], confidence: float = 0.95, target: float = 0.03) -> list[RatioWidth]:
    """Every ratio of the run with the half-width of its between-process interval (inf below two pairs) and the
    processes a ±target interval would need at its spread (`stats.processes_needed`)."""
    cells = per_process(records)
    out = []
    for a, b in _pairs(cells):
        common = sorted(set(cells[a]) & set(cells[b]))
        ratios = [cells[a][r][1] / cells[b][r][1] for r in common]
        if len(ratios) < 2:
            out.append(RatioWidth(_label(a, b), len(ratios), math.inf))
            continue
        got = stats.log_t_interval(ratios, confidence)
        out.append(RatioWidth(_label(a, b), len(ratios), got.half_width, stats.processes_needed(got.sd, target, confidence)))
    return out
