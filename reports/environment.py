"""The run header's environment fingerprint as (key, value) text rows for the renderers.

Nested dicts become dotted keys (cpu.model); the keys a reader looks for come first; bulky ones
(package lists, TensorFlow build info) are kept apart as "details".
"""

from __future__ import annotations

from typing import Any

FIRST = (
    "host", "os", "cpu.model", "cpu.logical_cores", "cpu.usable_cores", "cpu.flags", "memory_bytes", "gpus",
    "python", "tensorflow", "git.commit", "git.dirty", "loadavg",
)  # fmt: skip
BULKY = ("packages", "tf_build_info", "interpreters")
MAX_VALUE = 300


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value and not prefix.startswith(BULKY) and prefix != "env_vars":
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def _text(key: str, value: Any) -> str:
    if key == "memory_bytes" and isinstance(value, int | float):
        return f"{value / 2**30:.1f} GiB"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(_text("", v) for v in value) or "none"
    else:
        text = "–" if value is None else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def environment_rows(header: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(main rows, bulky detail rows) of a run header's environment, plus run metadata."""
    flat: dict[str, Any] = {}
    _flatten("", header.get("env") or {}, flat)
    meta = [("run_id", header.get("run_id")), ("created", header.get("created")), ("scenario", header.get("scenario_path"))]
    main = [(k, _text(k, v)) for k, v in meta if v]
    ordered = [k for k in FIRST if k in flat] + sorted(k for k in flat if k not in FIRST and not k.startswith(BULKY))
    main += [(k, _text(k, flat[k])) for k in ordered]
    details = [(k, _text(k, flat[k])) for k in sorted(flat) if k.startswith(BULKY)]
    return main, details
