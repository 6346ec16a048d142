"""The environment fingerprint: parsed from real /proc text, TensorFlow facts without importing it."""

from __future__ import annotations

import os
import sys

from bench.results import fingerprint

CPUINFO = """processor\t: 0
model name\t: Example CPU @ 2.0GHz
flags\t\t: fpu sse4_2 avx avx2 fma avx512f
processor\t: 1
model name\t: Example CPU @ 2.0GHz
"""


def test_cpu_info_from_proc_text() -> None:
    info = fingerprint.cpu_info(CPUINFO)
    assert info["model"] == "Example CPU @ 2.0GHz"
    assert info["flags"] == ["sse4_2", "avx", "avx2", "fma", "avx512f"]
    assert info["usable_cores"] >= 1


def test_memory_from_meminfo_text() -> None:
    assert fingerprint.memory_bytes("MemTotal:       1024 kB\nMemFree: 1 kB\n") == 1024 * 1024
    assert fingerprint.memory_bytes("") is None


def test_env_vars_keep_only_relevant_prefixes() -> None:
    env = {"TF_ENABLE_ONEDNN_OPTS": "0", "OMP_NUM_THREADS": "2", "KMP_AFFINITY": "x", "HOME": "/root", "PATH": "/bin"}
    assert fingerprint.env_vars(env) == {"KMP_AFFINITY": "x", "OMP_NUM_THREADS": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def test_tf_build_info_read_without_importing_tensorflow() -> None:
    info = fingerprint.tf_build_info()
    assert info is not None and "is_cuda_build" in info
    assert "tensorflow" not in sys.modules


def test_probe_runs_the_interpreter_in_a_subprocess() -> None:
    # The same venv interpreter spelled differently forces the subprocess path.
    other = os.path.join(os.path.dirname(sys.executable), "python" if not sys.executable.endswith("/python") else "python3")
    assert other != sys.executable
    facts = fingerprint.probe(other)
    assert facts["python"] == fingerprint.interpreter_facts()["python"]
    assert facts["packages"].get("tensorflow") == fingerprint.interpreter_facts()["packages"].get("tensorflow")


def test_probe_of_a_missing_interpreter_is_an_error_entry() -> None:
    facts = fingerprint.probe("/no/such/python")
    assert facts["executable"] == "/no/such/python" and "cannot run" in facts["error"]


def test_collect_has_every_header_field() -> None:
    before = set(sys.modules)  # other tests in this process may have imported TensorFlow already
    env = fingerprint.collect()
    imported = set(sys.modules) - before
    for key in ("host", "cpu", "memory_bytes", "gpus", "python", "packages", "tensorflow", "tf_build_info",
                "interpreters", "env_vars", "git", "loadavg"):
        assert key in env
    assert "tensorflow" not in imported and "pandas" not in imported


def test_env_vars_keep_tensorflows_own_not_terraforms() -> None:
    env = {"TF_CLI_CONFIG_FILE": "/root/.terraformrc", "TF_VAR_region": "eu", "TF_LOG": "DEBUG", "TF_DATA_DIR": "/t",
           "TF_CPP_MIN_LOG_LEVEL": "2", "TF_XLA_FLAGS": "--tf_xla_auto_jit=2", "TF_USE_LEGACY_KERAS": "1",
           "TF_GPU_ALLOCATOR": "cuda_malloc_async", "XLA_FLAGS": "--xla_dump_to=/x", "CUDA_VISIBLE_DEVICES": "0"}
    assert fingerprint.env_vars(env) == {
        "CUDA_VISIBLE_DEVICES": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "TF_GPU_ALLOCATOR": "cuda_malloc_async",
        "TF_USE_LEGACY_KERAS": "1", "TF_XLA_FLAGS": "--tf_xla_auto_jit=2", "XLA_FLAGS": "--xla_dump_to=/x"}
