"""Log-axis tick labels never overlap, however narrow the panel (an ECDF panel showed "0.005.01")."""

from __future__ import annotations

import pytest

from reports import plots


def _label_boxes(width_in: float, low: float, high: float, which: str) -> list[tuple[float, float]]:
    with plots._figure(width=width_in, ncols=6) as (fig, axes):
        ax = axes[0]
        (ax.plot([low, high], [1, 2]) if which == "x" else ax.plot([1, 2], [low, high]))
        plots._log_axis(ax, which, min_span=2.0)
        fig.canvas.draw()
        lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
        labels = ax.get_xticklabels() if which == "x" else ax.get_yticklabels()
        ticks = ax.get_xticks() if which == "x" else ax.get_yticks()
        shown = [lab.get_window_extent() for lab, t in zip(labels, ticks, strict=True) if lo <= t <= hi and lab.get_text()]
    spans = [(b.x0, b.x1) if which == "x" else (b.y0, b.y1) for b in shown]
    return sorted(spans)


@pytest.mark.parametrize("width_in", [12.0, 15.6, 30.0])
@pytest.mark.parametrize("low,high", [(0.004, 0.4), (0.0021, 0.03), (0.8, 95.0), (3.0, 7.0)])
def test_x_tick_labels_of_a_narrow_log_panel_do_not_overlap(width_in: float, low: float, high: float) -> None:
    spans = _label_boxes(width_in, low, high, "x")
    assert len(spans) >= 1
    for (_, right), (left, _) in zip(spans, spans[1:], strict=False):
        assert right < left, spans


def test_a_wide_axis_keeps_the_1_2_5_ticks() -> None:
    locator = plots.FittingLogLocator()
    assert list(locator._ticks(0.004, 0.4, (1.0, 2.0, 5.0), 1)) == pytest.approx([0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    with plots._figure(width=30.0, ncols=1) as (fig, axes):
        axes[0].plot([0.004, 0.4], [1, 2])
        plots._log_axis(axes[0], "x", min_span=2.0)
        fig.canvas.draw()
        lo, hi = axes[0].get_xlim()
        shown = [t for t in axes[0].get_xticks() if lo <= t <= hi]
        assert shown == pytest.approx(list(locator._ticks(lo, hi, (1.0, 2.0, 5.0), 1))) and len(shown) >= 6
