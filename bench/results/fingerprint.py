"""The environment fingerprint stored in each run's header: what machine and software measured it.

The parent never imports TensorFlow, so facts about a TensorFlow install come from a separate
process under the worker's interpreter: `python -m bench.results.fingerprint` prints that interpreter's
Python, package versions and TensorFlow's build info (read from the installed
`build_info.py`, without importing TensorFlow). Workers add what only a running TensorFlow knows
(oneDNN on or off, devices seen) to every cell record (bench.worker.measure).
"""

from __future__ import annotations

import ast
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.runner.procs import PROJECT_ROOT, worker_env

PACKAGES = ("tensorflow", "tensorflow-cpu", "tf-keras", "keras", "ai-edge-litert", "numpy", "infer-bench")
# Environment variables that change what TensorFlow, its oneDNN/OpenMP/MKL threading, XLA or CUDA do.
# "TF_" alone is not TensorFlow's: Terraform reads TF_CLI_CONFIG_FILE, TF_VAR_*, TF_LOG, TF_DATA_DIR...
# So TensorFlow's own are matched by prefixes only TensorFlow uses, or by name (those TensorFlow reads,
# from its documentation and sources).
ENV_PREFIXES = ("OMP_", "KMP_", "MKL_", "CUDA_", "XLA_", "ONEDNN_", "DNNL_",
                "TF_CPP_", "TF_GPU_", "TF_XLA_", "TF_ONEDNN_", "TF_CUDNN_", "TF_MKL_", "TF_CUDA_")
ENV_NAMES = frozenset({
    "TF_ENABLE_ONEDNN_OPTS", "TF_USE_LEGACY_KERAS", "TF2_BEHAVIOR", "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS", "TF_DETERMINISTIC_OPS", "TF_FORCE_GPU_ALLOW_GROWTH", "TF_ENABLE_XLA",
    "TF_ENABLE_AUTO_MIXED_PRECISION", "TF_AUTOTUNE_THRESHOLD", "TF_DISABLE_MKL", "TF_RUN_EAGER_OP_AS_FUNCTION",
    "TF_ENABLE_GPU_GARBAGE_COLLECTION", "TF_FORCE_UNIFIED_MEMORY", "TF_DUMP_GRAPH_PREFIX",
    "TF_ENABLE_EAGER_CLIENT_STREAMING_ENQUEUE", "TF_SYNC_ON_FINISH", "NVIDIA_TF32_OVERRIDE", "KERAS_BACKEND",
})
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
PROBE_TIMEOUT_S = 60


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return {
        "model": fields.get("model name") or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "flags": [f for f in CPU_FLAGS if f in flags],
        "machine": platform.machine(),
    }


def memory_bytes(meminfo: str | None = None) -> int | None:
    text = _read("/proc/meminfo") if meminfo is None else meminfo
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def gpus() -> list[dict[str, str]]:
    """NVIDIA GPUs and driver from nvidia-smi; [] without one."""
    if not shutil.which("nvidia-smi"):
        return []
    query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = [line.split(", ") for line in out.stdout.splitlines() if line.strip()]
    return [{"name": r[0], "driver": r[1], "memory": r[2]} for r in rows if len(r) == 3]


def git_commit(cwd: Path | None = None) -> dict[str, Any] | None:
    """The working directory's commit, branch, parent, commit time and whether it has uncommitted changes
    (the history database orders runs by them); None outside git."""
    if not shutil.which("git"):
        return None
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "branch": git_branch(git),
            "parent": git("rev-parse", "--verify", "--quiet", "HEAD^"), "committed": git("show", "-s", "--format=%cI", "HEAD")}


def git_branch(git: Callable[..., str | None], environ: Mapping[str, str] | None = None) -> str | None:
    """The branch being measured: CI's name for it where checkouts are detached (GitHub Actions sets
    GITHUB_HEAD_REF on pull requests, GITHUB_REF_NAME otherwise), else git's; None when detached."""
    environ = os.environ if environ is None else environ
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if environ.get(name):
            return environ[name]
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return None if branch in (None, "HEAD") else branch


def env_vars(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    return {k: v for k, v in sorted(environ.items()) if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


# ------------------------------------------------------------- one interpreter (runs in the probe)


def _package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def tf_build_info() -> dict[str, Any] | None:
    """TensorFlow's build_info dict, parsed from the installed file (no TensorFlow import)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("tensorflow")
    except metadata.PackageNotFoundError:
        try:
            dist = metadata.distribution("tensorflow-cpu")
        except metadata.PackageNotFoundError:
            return None
    path = Path(str(dist.locate_file("tensorflow/python/platform/build_info.py")))
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "build_info" for t in node.targets):
            return _literal_dict(node.value)
    return None


def _literal_dict(node: ast.expr) -> dict[str, Any] | None:
    """A dict literal, or `collections.OrderedDict([...pairs...])` as TensorFlow writes it."""
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return {str(k): v for k, v in dict(value).items()}


def interpreter_facts() -> dict[str, Any]:
    return {
        "executable": sys.executable,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": _package_versions(),
        "tf_build_info": tf_build_info(),
    }


def probe(python: str) -> dict[str, Any]:
    """interpreter_facts() as seen by another interpreter (a subprocess; no TensorFlow import)."""
    if python == sys.executable:
        return interpreter_facts()
    try:
        out = subprocess.run([python, "-m", "bench.results.fingerprint"], capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S, env=worker_env({}), cwd=PROJECT_ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"executable": python, "error": f"cannot run the interpreter ({exc})"}
    if out.returncode != 0:
        return {"executable": python, "error": out.stderr.strip()[-500:]}
    return dict(json.loads(out.stdout))


# ------------------------------------------------------------- the whole fingerprint


def collect(pythons: Iterable[str] = (sys.executable,)) -> dict[str, Any]:
    """The run header's `env`: host, CPU, memory, GPUs, interpreters, TF_*/OMP_* vars, git."""
    interpreters = {p: probe(p) for p in dict.fromkeys(pythons)}
    own = interpreters.get(sys.executable) or interpreter_facts()
    return {
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu_info(),
        "memory_bytes": memory_bytes(),
        "gpus": gpus(),
        "python": own.get("python"),
        "packages": own.get("packages", {}),
        "tensorflow": (own.get("packages") or {}).get("tensorflow"),
        "tf_build_info": own.get("tf_build_info"),
        "interpreters": interpreters,
        "env_vars": env_vars(),
        "git": git_commit(Path.cwd()),
        "loadavg": loadavg(),
    }


if __name__ == "__main__":
    print(json.dumps(interpreter_facts()))
