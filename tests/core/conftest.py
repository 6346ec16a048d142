from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The zoo's mnist_cnn exported in every format (cached like `infer-bench run` caches it)."""
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn")
