"""Duet measurement, worker side: two workers meet before each batch size and time it in the same window.

Each worker of a duet touches `<dir>/<step>.<me>` and waits (sleeping 1 ms between looks, never spinning
beside its partner) until every partner's file for that step exists; then both warm up and time the same
batch size for the same fixed window (`window_policy`: min_time = max_time), so both see the same
interference. A partner that never arrives (it crashed) is waited for at most `WAIT_S`; the worker then
measures alone and its records say `mode = "separate"`.

Limits (stated in the README): the two share the machine's caches, memory bandwidth and, on a 2-core
machine, every other core; only what hits both processes alike cancels in their ratio.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.timing import Policy

WAIT_S = 120.0


def meet(duet: Mapping[str, Any], step: str, wait_s: float = WAIT_S) -> bool:
    """Arrive at `step` and wait for the partners; False when they did not come in time."""
    folder = Path(str(duet["dir"]))
    (folder / f"{step}.{duet['me']}").touch()
    deadline = time.monotonic() + wait_s
    while len(list(folder.glob(f"{step}.*"))) < int(duet["peers"]):
        if time.monotonic() > deadline or any(folder.glob("done.*")):
            return False
        time.sleep(0.001)
    return True


def leave(duet: Mapping[str, Any]) -> None:
    """Say this worker has nothing more to measure, so a partner does not wait for it."""
    (Path(str(duet["dir"])) / f"done.{duet['me']}").touch()


def window_policy(policy: Policy) -> Policy:
    """The same fixed window for both partners: time until max_time, whatever the interval does."""
    return dataclasses.replace(policy, min_time=policy.max_time, min_iterations=1, max_iterations=None)
