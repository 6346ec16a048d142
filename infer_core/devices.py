"""Devices: parse 'cpu' / 'gpu' / 'gpu:N', check they exist, place work on them, read GPU memory."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from infer_core.errors import DeviceUnavailable, InferCoreError

__all__ = ["DeviceUnavailable", "parse_device", "tf_device", "require", "gpu_hint", "gpu_memory", "configure_gpus"]


def parse_device(text: str) -> tuple[str, int]:
    """'cpu' -> ('cpu', 0); 'gpu' -> ('gpu', 0); 'gpu:1' -> ('gpu', 1)."""
    kind, _, index = text.strip().lower().partition(":")
    if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
        raise InferCoreError(f"unknown device {text!r}; use cpu, gpu or gpu:N")
    return kind, int(index or 0)


def tf_device(text: str) -> str:
    """TensorFlow's device string for `with tf.device(...)`."""
    kind, index = parse_device(text)
    return f"/{kind.upper()}:{index}"


def gpu_hint() -> bool:
    """Whether an NVIDIA GPU seems present, without importing TensorFlow (for planning only)."""
    if not shutil.which("nvidia-smi"):
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def configure_gpus() -> list[Any]:
    """Enable memory growth on every visible GPU (so one model does not reserve the whole card)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised: growth cannot change any more
    return list(gpus)


def require(text: str) -> str:
    """Check the device exists in this TensorFlow process; returns TensorFlow's device string."""
    kind, index = parse_device(text)
    if kind == "gpu":
        gpus = configure_gpus()
        if index >= len(gpus):
            found = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
            raise DeviceUnavailable(f"device {text!r} is not available: TensorFlow sees {found} on this machine")
    return tf_device(text)


def gpu_memory(text: str) -> dict[str, int] | None:
    """Current and peak bytes allocated on a GPU by TensorFlow; None for the CPU."""
    kind, index = parse_device(text)
    if kind != "gpu":
        return None
    import tensorflow as tf

    info = tf.config.experimental.get_memory_info(f"GPU:{index}")
    return {"current_bytes": int(info["current"]), "peak_bytes": int(info["peak"])}


def reset_gpu_peak(text: str) -> None:
    kind, index = parse_device(text)
    if kind == "gpu":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats(f"GPU:{index}")
