"""The scenario: what to measure. Runs in the parent (and in `plan`), never imports TensorFlow.

model.py      the frozen dataclasses a scenario is made of (and the TOML key reference)
parse.py      TOML text -> Scenario, every mistake as FILE:LINE: key: what is allowed
overrides.py  command-line flags applied on top of a scenario
sweep.py      a scenario expanded into cells, grouped by worker process, scheduled in rounds
"""

from bench.scenario.model import ExcludeRule, ModelEntry, RunOptions, Scenario, Sweep
from bench.scenario.overrides import (
    Overrides,
    apply_overrides,
    parse_batch_sizes_flag,
    parse_devices_flag,
    parse_formats_flag,
)
from bench.scenario.parse import DEFAULT_TEXT, default, load, locate, parse

__all__ = [
    "DEFAULT_TEXT", "ExcludeRule", "ModelEntry", "Overrides", "RunOptions", "Scenario", "Sweep", "apply_overrides",
    "default", "load", "locate", "parse", "parse_batch_sizes_flag", "parse_devices_flag", "parse_formats_flag",
]
