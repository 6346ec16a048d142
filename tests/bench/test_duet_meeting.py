"""The duet meeting (bench.worker.duet) and the timing loop's meeting hook, on fake clocks and a real folder.

The two partners of a meeting are two `Place`s on one folder; where a test needs both to wait, they are two
threads, else the partner's files are written as its worker would write them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import timing
from bench.timing import NS, Policy
from bench.worker.duet import LEAD_NS, Arrival, Met, Place, Step
from reports.schema import CellRecord


class FakeTime:
    """A clock that moves only when the code under test sleeps (or a call runs)."""

    def __init__(self) -> None:
        self.now = 1_000 * NS
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += int(seconds * NS)


def place(folder: Path, me: str, clock: FakeTime | None = None, wait_s: float = 120.0) -> Place:
    duet = {"dir": str(folder), "me": me, "partner": "b" if me == "a" else "a", "id": "d1"}
    if clock is None:
        return Place(duet, wait_s=wait_s)
    return Place(duet, clock=clock, sleep=clock.sleep, wait_s=wait_s)


def arrive(folder: Path, who: str, batch_size: int, arrival: Arrival) -> None:
    (folder / f"arrive.{who}.{batch_size}.json").write_text(json.dumps(arrival.to_json()))


def test_two_partners_derive_the_same_window_from_their_arrivals(tmp_path: Path) -> None:
    """Real threads, real clock: both get one window, starting LEAD_NS after the later arrival and lasting the
    longer of the two wanted windows; each learns the other's cells."""
    got: dict[str, Met | None] = {}

    def side(me: str, window_ns: int) -> None:
        got[me] = place(tmp_path, me).meet(8, [f"cell-{me}"], window_ns)

    threads = [threading.Thread(target=side, args=("a", 300_000_000)), threading.Thread(target=side, args=("b", 500_000_000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    a, b = got["a"], got["b"]
    assert a is not None and b is not None
    assert (a.start_ns, a.deadline_ns) == (b.start_ns, b.deadline_ns)
    assert a.deadline_ns - a.start_ns == 500_000_000
    arrivals = [Arrival.from_json(json.loads((tmp_path / f"arrive.{w}.8.json").read_text())) for w in "ab"]
    assert a.start_ns == max(x.at_ns for x in arrivals) + LEAD_NS
    assert (a.partner_cells, b.partner_cells) == (("cell-b",), ("cell-a",))


def test_the_first_to_arrive_waits_and_both_sleep_until_the_shared_start(tmp_path: Path) -> None:
    clock = FakeTime()
    arrive(tmp_path, "b", 1, Arrival(clock.now + 5 * 1_000_000, 200_000_000, ("b1",)))  # b arrived 5 ms after a
    met = place(tmp_path, "a", clock).meet(1, ["a1"], 200_000_000)
    assert met == Met(clock.now, clock.now + 200_000_000, ("b1",))  # returns at the start
    assert met.start_ns == 1_000 * NS + 5_000_000 + LEAD_NS


def test_a_partner_gone_without_leaving_is_lost_at_once_and_never_waited_for_again(tmp_path: Path) -> None:
    clock = FakeTime()
    me = place(tmp_path, "a", clock)
    (tmp_path / "gone.b").touch()  # its process ended (the parent's mark) and it never said it was done
    assert me.meet(1, ["a1"], 10) is None
    assert me.lost_ns == 1_000 * NS and clock.slept == []  # noticed at the first look
    assert me.meet(2, ["a2"], 10) is None and not (tmp_path / "arrive.a.2.json").exists()


def test_a_partner_that_left_or_passed_this_batch_size_is_not_lost(tmp_path: Path) -> None:
    """Done (it measured all it had): timed alone. Arrived at a larger batch size (nothing to time at this one):
    this one alone, the next together."""
    clock = FakeTime()
    me = place(tmp_path, "a", clock)
    arrive(tmp_path, "b", 4, Arrival(clock.now, 100, ("b4",)))
    assert me.meet(2, ["a2"], 100) is None and me.lost_ns is None
    assert me.meet(4, ["a4"], 100) is not None
    (tmp_path / "done.b").touch()
    (tmp_path / "gone.b").touch()  # a worker that left also ends; that is no loss
    assert me.meet(8, ["a8"], 100) is None and me.lost_ns is None


def test_a_living_partner_is_waited_for_at_most_wait_s_and_looked_for_every_millisecond(tmp_path: Path) -> None:
    clock = FakeTime()
    me = place(tmp_path, "a", clock, wait_s=2.0)
    assert me.meet(1, ["a1"], 100) is None and me.lost_ns is None
    assert clock.now - 1_000 * NS == pytest.approx(2.0 * NS, abs=2_000_000)
    assert set(clock.slept) == {0.001}


def test_a_step_meets_once_and_stamps_what_happened(tmp_path: Path) -> None:
    """A batch size timed again after a cell failed is timed alone: its record says separate."""
    clock = FakeTime()
    arrive(tmp_path, "b", 1, Arrival(clock.now, 100_000_000, ("b1",)))
    step = Step(place(tmp_path, "a", clock), 1, ["a1"])
    deadline = step(100_000_000)
    assert deadline is not None and deadline == clock.now + 100_000_000
    record = CellRecord(cell_id="a1", group_id="g", repetition=0, model="m", variant="tflite")
    step.stamp(record, timing.Measurement(0.1, 1, 0.1, [5], "max_time", None, (clock.now, deadline + 7)))
    assert record.mode == "duet" and record.window_ns == [clock.now, deadline + 7]
    assert record.duet == {"id": "d1", "partners": ["b1"], "partner_lost": False, "lost_ns": None}
    assert step(100_000_000) is None
    step.stamp(record, timing.Measurement(0.1, 1, 0.1, [5], "max_time", None, (1, 2)))
    assert record.mode == "separate" and record.duet["partners"] == []


# ------------------------------------------------------------------ the timing loop's meeting hook


class CallClock:
    """Time moves only when the measured call runs (1 ms a call) or the meeting makes the loop wait."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def call(self) -> None:
        self.now += 1_000_000


def constant(ns: int) -> Iterator[int]:
    while True:
        yield ns


@pytest.mark.parametrize("k", [1, 2])
def test_the_timed_loop_starts_after_warmup_at_the_meeting_and_stops_at_the_shared_deadline(k: int) -> None:
    """Warmup ends, the meeting returns 30 ms later at the start (the partner warmed up longer) with a 250 ms
    window: every call is timed inside it, the last one reaching the deadline, whatever the policy's own
    limits (1 s, 5 calls) and intervals say."""
    clock = CallClock()
    seen: dict[str, int] = {}

    def meeting(window_ns: int) -> int:
        seen["asked"], seen["at"] = window_ns, clock.now
        clock.now += 30_000_000
        return clock.now + 250_000_000

    policy = Policy(warmup_iterations=3, warmup_time=0, min_time=0.01, max_time=1.0, min_iterations=5, max_iterations=5,
                    switch_warmup=0, turn_calls=1)  # every call timed
    got = timing.measure_interleaved([clock.call] * k, policy, clock=clock, meeting=meeting)
    assert seen["asked"] == k * NS  # this side's window: max_time per call
    warm_end = seen["at"]
    assert warm_end == 1_000_000 * k * (1 + 3)  # first calls and warmup come before the meeting
    start, end = got[0].window_ns or (0, 0)
    assert start == warm_end + 30_000_000 and end == start + 250_000_000
    assert sum(len(m.latencies_ns) for m in got) == 250
    assert all(m.window_ns == (start, end) for m in got)


def test_no_meeting_times_under_the_policy_and_still_records_the_window() -> None:
    clock = CallClock()
    got = timing.measure(clock.call, Policy(warmup_iterations=0, warmup_time=0, min_time=0.05, max_time=0.05,
                                            min_iterations=1), clock=clock, meeting=lambda window_ns: None)
    start, end = got.window_ns or (0, 0)
    assert end - start == 50_000_000 and len(got.latencies_ns) == 50
