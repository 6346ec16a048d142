"""Every error `infer_core` raises. Library code raises these; only the CLI prints them and exits.

Each message is one line that names the file or tensor and says what to do.
"""

from __future__ import annotations


class InferCoreError(Exception):
    """Base class."""

    exit_code = 2


class ModelNotFound(InferCoreError):
    """The model path does not exist."""


class UnknownFormat(InferCoreError):
    """The format could not be detected from the path, or the name is not a known format/variant."""


class CorruptModel(InferCoreError):
    """The file exists but is not a readable model of its format."""


class BuilderError(InferCoreError):
    """A user's graph-building function is missing, fails, or does not return tensors."""


class TensorNotFound(InferCoreError):
    """An input or output name given by the user is not in the model."""


class InputError(InferCoreError):
    """Inputs cannot be made or loaded: wrong shape/dtype in a .npz, an unset dynamic dimension."""


class DeviceUnavailable(InferCoreError):
    """The device asked for is not present on this machine."""


class UnsupportedSetting(InferCoreError):
    """A setting the model's format cannot honour (e.g. the caller's thread for an eager function)."""


class ConversionError(InferCoreError):
    """A converter cannot produce the requested format from this model."""


class UnsafeModel(InferCoreError):
    """Keras refused to deserialise code (a Lambda layer) with safe_mode on."""


class ProfilingError(InferCoreError):
    """A model cannot be profiled the way asked (no traceable graph, a concrete function that does not freeze)."""


class LegacyKerasRequired(InferCoreError):
    """A legacy .h5 that only tf-keras reads: the caller retries in a legacy (tf-keras) worker."""
