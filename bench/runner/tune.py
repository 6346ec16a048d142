"""`infer-bench tune`: the best serving configuration under an SLO, found by successive halving.

Candidates: format x intra-op threads x executor threads x batching parameters (TF Serving's). Brute force
(model_analyzer's way) measures every one fully; here every candidate gets a short capacity search, the
better half goes on to a search twice as long, and so on until two are left; the finalists are searched
at full length and repeated in fresh worker processes, so the ranking of the top comes with the range (min to
max) of the processes' estimates. A short round is noisy, so it measures its own noise: each candidate's trial
runs in `round_confirm` fresh processes besides the first, and its range spans their estimates (widened by the
search's precision, the bracket it stops at). A candidate outside the better half is kept anyway while its range
reaches the best one's: a difference within the round's noise drops nobody (`survivors`). A range is what the
few processes showed, not a statistical interval. When nobody can be
dropped at full length, all that are left go to the final.
Objective "qps": the most QPS with the percentile within the SLO (default). Objective "p99": the lowest
percentile latency at a given QPS. The baseline is today's measurement, single-stream batch 1 on the
first format: its QPS counts only if its percentile meets the SLO.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.load_settings import Batching, LoadSettings
from bench.runner.capacity import Append, Request, Say, capacity, enforce_threads, run_point
from infer_core.model import CALLER_THREAD, ModelSpec


@dataclass(frozen=True)
class Candidate:
    variant: str
    intra_op_threads: int
    threads: int  # executor threads, or num_batch_threads with batching
    batching: Batching | None = None

    def label(self) -> str:
        b = self.batching
        batch = f"batch<={b.max_batch_size}/{b.batch_timeout_micros}us" if b else "no batching"
        return f"{self.variant} intra={self.intra_op_threads or 'default'} threads={self.threads} {batch}"

    def settings(self, base: LoadSettings) -> LoadSettings:
        batching = dataclasses.replace(self.batching, num_batch_threads=self.threads) if self.batching else None
        return dataclasses.replace(base, executor_threads=self.threads, batching=batching)


def grid(variants: Sequence[str], intra: Sequence[int], threads: Sequence[int],
         batchings: Sequence[Batching | None]) -> list[Candidate]:
    return [Candidate(v, i, t, b) for v in variants for i in intra for t in threads for b in batchings]


@dataclass
class Row:
    candidate: Candidate
    score: float  # qps objective: capacity (0 = none); p99 objective: -p99 ms (higher is better)
    rounds: int
    estimate_range: tuple[float, float] | None = None  # min-max of the final's estimates, or of the last round's
    estimates: list[float | None] = field(default_factory=list)


def _reaches(row: Row, best: Row) -> bool:
    """Row's range reaches the best's: the two are not told apart by the round's noise."""
    a, b = row.estimate_range, best.estimate_range
    return a is not None and b is not None and a[1] >= b[0]


def survivors(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """(kept, dropped) after a round: the better half by score (at least 2), plus any other whose range
    reaches the best one's, best first. A candidate with no range (nothing passed) is not kept for noise."""
    ranked = sorted(rows, key=lambda r: r.score, reverse=True)
    keep = max(2, len(ranked) // 2)
    tied = [r for r in ranked[keep:] if _reaches(r, ranked[0])]
    return ranked[:keep] + tied, [r for r in ranked[keep:] if not _reaches(r, ranked[0])]


@dataclass
class TuneResult:
    rows: list[Row]  # ranked, best first
    baseline_qps: float | None
    baseline_p: float | None  # its percentile in ms
    objective: str

    @property
    def winner(self) -> Row | None:
        return self.rows[0] if self.rows and self.rows[0].score > (0 if self.objective == "qps" else -math.inf) else None

    @property
    def gain(self) -> float | None:
        w = self.winner
        if w is None or self.objective != "qps" or not self.baseline_qps:
            return None
        return w.score / self.baseline_qps


def serving_text(c: Candidate, spec: ModelSpec) -> str:
    """What to give TF Serving: the batching_parameters file and the thread flags."""
    inter = spec.inter_op_threads if spec.inter_op_threads == CALLER_THREAD else max(spec.inter_op_threads, c.threads)
    lines = [f"# {c.label()}",
             f"# tensorflow_model_server --tensorflow_intra_op_parallelism={c.intra_op_threads} "
             f"--tensorflow_inter_op_parallelism={inter}"
             + (" --enable_batching --batching_parameters_file=batching_parameters.txt" if c.batching else "")]
    applied = c.settings(LoadSettings()).batching
    return "\n".join(lines) + "\n" + (applied.to_text() if applied is not None else "")


@dataclass
class Tuner:
    model: str
    specs: dict[str, ModelSpec]  # variant -> spec
    base: LoadSettings  # the full-length settings with the SLO
    append: Append
    say: Say = lambda _: None
    objective: str = "qps"
    qps: float | None = None  # the p99 objective's rate
    confirm: int = 2
    round_confirm: int = 1  # fresh processes besides the first in each halving round: the round's noise
    timeout_s: float = 1800.0
    rule: str = "observed"
    _rep: int = 0

    def request(self, c: Candidate, scale: float, confirm: int) -> Request:
        s = dataclasses.replace(c.settings(self.base), min_duration=self.base.min_duration * scale,
                                min_queries=max(100, int(self.base.min_queries * scale)))
        spec = dataclasses.replace(self.specs[c.variant], intra_op_threads=c.intra_op_threads)
        self._rep += confirm + 1
        return Request(self.model, enforce_threads(spec, s), s, rule=self.rule, confirm=confirm, first_rep=self._rep,
                       precision=0.05 if scale >= 1 else 0.15, max_steps=14 if scale >= 1 else 8, timeout_s=self.timeout_s)

    def trial(self, c: Candidate, scale: float, confirm: int) -> tuple[float, list[float | None], tuple[float, float] | None]:
        """(score, estimates over processes, range) of one candidate at a trial length. The range spans the
        processes' estimates; a capacity's top is widened by the search's precision (it stops within that bracket)."""
        r = self.request(c, scale, confirm)
        if self.objective == "qps":
            out = capacity(r, self.append)
            est = [e for e in out.found if e > 0]
            return out.capacity or 0.0, out.estimates, (min(est), max(est) * (1 + r.precision)) if est else None
        scores = []
        for k in range(confirm + 1):
            rec = run_point(r, f"server:{self.qps:g}", r.first_rep + k, self.append)
            block = (rec or {}).get("load") or {}
            ok = block.get("valid") and block.get("observed_ns") is not None
            scores.append(-block["observed_ns"] / 1e6 if ok else -math.inf)
        finite = [x for x in scores if math.isfinite(x)]
        return sorted(scores)[len(scores) // 2], list(scores), (min(finite), max(finite)) if finite else None

    def run(self, candidates: list[Candidate]) -> TuneResult:
        alive = [Row(c, 0.0, 0) for c in candidates]
        scale, finished = 0.25, []
        while len(alive) > 2:
            for row in alive:
                self.say(f"tune: round {row.rounds + 1} ({scale:g} x length): {row.candidate.label()}")
                row.score, _, row.estimate_range = self.trial(row.candidate, scale, self.round_confirm)
                row.rounds += 1
            alive, dropped = survivors(alive)
            finished += dropped
            if not dropped and scale >= 1.0:
                self.say(f"tune: {len(alive)} candidates within each other's noise at full length: all go to the final")
                break
            scale = min(1.0, scale * 2)
        for row in alive:
            self.say(f"tune: final ({self.confirm} fresh processes): {row.candidate.label()}")
            row.score, row.estimates, _ = self.trial(row.candidate, 1.0, self.confirm)
            row.rounds += 1
            finite = [e for e in row.estimates if e is not None and math.isfinite(e)]
            row.estimate_range = (min(finite), max(finite)) if finite else None
        alive.sort(key=lambda r: r.score, reverse=True)
        base_qps, base_p = self.baseline(candidates[0])
        return TuneResult(alive + sorted(finished, key=lambda r: (r.rounds, r.score), reverse=True), base_qps, base_p, self.objective)

    def baseline(self, first: Candidate) -> tuple[float | None, float | None]:
        """Single-stream batch 1 on the first format: (its QPS if its percentile meets the SLO else 0, its percentile ms)."""
        c = Candidate(first.variant, 0, 1, None)
        r = self.request(c, 1.0, 0)
        rec = run_point(r, "single_stream", r.first_rep, self.append)
        block = (rec or {}).get("load") or {}
        if block.get("observed_ns") is None:
            return None, None
        p = block["observed_ns"] / 1e6
        return (block["achieved_qps"] if block.get("slo_met_observed") else 0.0), p


def _applied_batching(c: Candidate) -> dict[str, Any] | None:
    b = c.settings(LoadSettings()).batching
    return b.to_json() if b is not None else None


def record(t: TuneResult, model: str, base: LoadSettings, specs: dict[str, ModelSpec]) -> dict[str, Any]:
    w = t.winner
    rows = [{"label": r.candidate.label(), "variant": r.candidate.variant, "intra_op_threads": r.candidate.intra_op_threads,
             "threads": r.candidate.threads, "batching": _applied_batching(r.candidate),
             "score": r.score if math.isfinite(r.score) else None, "rounds": r.rounds,
             "range": list(r.estimate_range) if r.estimate_range else None} for r in t.rows]
    return {"kind": "tune", "model": model, "slo_ms": base.slo_ms, "percentile": base.percentile, "objective": t.objective,
            "rows": rows, "winner": rows[0] if w is not None else None, "baseline_qps": t.baseline_qps,
            "baseline_percentile_ms": t.baseline_p, "gain": t.gain,
            "batching_parameters": serving_text(w.candidate, specs[w.candidate.variant]) if w is not None else None}

