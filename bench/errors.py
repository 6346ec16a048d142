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
