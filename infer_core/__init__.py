"""The core inference module: load a TensorFlow model in any format on a device and run it.

Importing this package does not import TensorFlow; `load` does, so call it in a worker process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infer_core.model import Model, ModelSpec


def load(spec: ModelSpec) -> Model:
    from infer_core.formats import load as _load

    return _load(spec)


__all__ = ["load"]
