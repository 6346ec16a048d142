"""Number formatting shared by the renderers: one spelling of ms, samples/s, ratios and intervals."""

from __future__ import annotations

import math
from collections.abc import Callable


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


MAX_DECIMALS = 17  # enough to tell any float64 other than 1 from 1


def _decimals(low: float, high: float, start: int, text: Callable[[float, int], str]) -> int:
    """`start` decimals, or more where [low, high] lies wholly on one side of 1 but its bound nearer 1 would
    print as 1 itself (`text(1.0, d)`): a significant interval never reads as one that touches 1."""
    near = low if low > 1.0 else high if high < 1.0 else None
    digits = start
    while near is not None and digits < MAX_DECIMALS and text(near, digits) == text(1.0, digits):
        digits += 1
    return digits


def _times(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _change(value: float, digits: int) -> str:
    return f"{abs(value - 1.0) * 100:.{digits}f}"


def ratio_texts(point: object, low: object, high: object) -> tuple[str, str]:
    """A ratio and its interval at one precision: ("2.13×", "1.90–2.35×"). Two decimals, more where the interval
    lies wholly above or below 1 and its nearer bound would print as 1.00; rounding is monotone, so a point inside
    its interval prints inside it, and an interval that excludes 1 prints excluding it."""
    if _bad(low) or _bad(high) or _bad(point):
        return ratio(point), interval(low, high, "×")
    lo, hi, p = float(low), float(high), float(point)  # type: ignore[arg-type]
    d = _decimals(lo, hi, 2, _times)
    return f"{p:.{d}f}×", f"{lo:.{d}f}–{hi:.{d}f}×"


def change_texts(point: object, low: object, high: object) -> tuple[str, str]:
    """A ratio as a change and its interval at one precision: ("+85%", "+80…+90%"). Whole percent, more decimals
    where the interval lies wholly on one side of 1 and its nearer bound would print as 0% (as `ratio_texts`)."""
    if _bad(low) or _bad(high) or _bad(point):
        return ("–" if _bad(point) else f"{float(point) - 1:+.0%}"), "–"  # type: ignore[arg-type]
    lo, hi, p = float(low), float(high), float(point)  # type: ignore[arg-type]
    d = _decimals(lo, hi, 0, _change)
    return f"{(p - 1.0) * 100:+.{d}f}%", f"{(lo - 1.0) * 100:+.{d}f}…{(hi - 1.0) * 100:+.{d}f}%"


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
