"""Every error `reports` raises. Library code raises these; only the CLI prints them and exits."""

from __future__ import annotations


class ReportsError(Exception):
    """Base class: a message meant for the user, one line."""

    exit_code = 2


class ResultsFileError(ReportsError):
    """A results file is missing, corrupt or of an unknown schema version."""


class CompareError(ReportsError):
    """A comparison cannot be made as asked (bad metric, threshold or alpha)."""
