"""Every error `bench` raises. Library code raises these; only the CLI prints them and exits."""

from __future__ import annotations


class BenchError(Exception):
    """Base class: a one-line message meant for the user."""

    exit_code = 2


class WorkerError(BenchError):
    """A worker process failed in a way that is not a model error (crash, timeout, protocol)."""


class ScenarioError(BenchError):
    """A scenario file is malformed: the message names the file, key and line."""


class BaselineError(BenchError):
    """A named baseline is missing, corrupt, of an unknown format, or cannot be saved as asked."""


class ImportFileError(BenchError):
    """A file to import (e.g. pytest-benchmark JSON) is unreadable or lacks what is needed."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Every error class that is the user's to fix: printed as one line with its exit code, never a traceback.

    The one list the CLI, the worker (which sends them to the parent) and the pytest plugin catch."""
    from infer_core.errors import InferCoreError
    from reports.errors import ReportsError

    return (BenchError, InferCoreError, ReportsError)
