"""Number formatting shared by the renderers: one spelling of ms, samples/s, ratios and intervals."""

from __future__ import annotations

import math


def _bad(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def ms(value: object) -> str:
    """Milliseconds with three significant digits: 0.0812, 0.900, 45.6, 1,234."""
    if _bad(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:#.3g}" if v >= 0.001 else f"{v:.2e}"


def rate(value: object) -> str:
    """Samples per second, grouped thousands: 12,345 or 12.3."""
    if _bad(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def ratio(value: object) -> str:
    """A speedup: 2.13×."""
    return "–" if _bad(value) else f"{float(value):.2f}×"  # type: ignore[arg-type]


def interval(low: object, high: object, unit: str = "") -> str:
    """A two-sided interval: 1.90–2.35×."""
    if _bad(low) or _bad(high):
        return "–"
    if unit == "×":
        return f"{float(low):.2f}–{float(high):.2f}×"  # type: ignore[arg-type]
    return f"{ms(low)}–{ms(high)}{unit}"


def pct(value: object) -> str:
    return "–" if _bad(value) else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def seconds(value: object) -> str:
    return "–" if _bad(value) else f"{float(value):.2f} s"  # type: ignore[arg-type]


def seconds3(value: object) -> str:
    """Seconds with three significant digits, no unit: 4.81, 0.0352, 0.000377."""
    if _bad(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:#.3g}" if v >= 1e-4 or v == 0 else f"{v:.2e}"


def sci(value: object) -> str:
    return "–" if _bad(value) else f"{float(value):.1e}"  # type: ignore[arg-type]


def mib(value: object) -> str:
    return "–" if _bad(value) else f"{float(value):,.0f} MiB"  # type: ignore[arg-type]
