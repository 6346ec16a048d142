"""Scenario validation: every mistake names the file, the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scenario
from bench.errors import ScenarioError
from bench.timing import Policy

GOOD = """\
[run]
repetitions = 3
shuffle_seed = 7
timeout = 120

[measure]
min_time = 0.5
max_time = 4

[sweep]
formats = ["frozen", "tflite+int8"]
batch_sizes = [1, 32]
devices = ["cpu", "gpu"]
affinity = ["", "0-1"]
[sweep.env]
TF_ENABLE_ONEDNN_OPTS = ["0", "1"]

[[models]]
zoo = "mnist_cnn"

[[models]]
name = "seed"
files = { checkpoint = "m/model.ckpt", frozen = "m/frozen.pb" }
builder = "m/build.py:build"
shapes = { x = [1, 28, 28, 1] }

[[exclude]]
format = "tflite+int8"
device = "gpu"
"""


def parse(text: str) -> scenario.Scenario:
    return scenario.parse(text, "s.toml", Path("/scen"))


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse(text)
    return str(info.value)


def test_good_scenario_parses_into_frozen_values() -> None:
    s = parse(GOOD)
    assert s.run.repetitions == 3 and s.run.shuffle_seed == 7 and s.run.timeout == 120
    assert s.policy == Policy(min_time=0.5, max_time=4.0)
    assert s.sweep.devices == ("cpu", "gpu:0")
    assert s.sweep.env == {"TF_ENABLE_ONEDNN_OPTS": ("0", "1")}
    seed = s.models[1]
    assert seed.files["frozen"] == "/scen/m/frozen.pb"
    assert seed.builder == "/scen/m/build.py:build"
    assert seed.shapes == {"x": (1, 28, 28, 1)}
    assert seed.available() == ("checkpoint", "frozen")
    assert s.exclude[0].match == {"format": ("tflite+int8",), "device": ("gpu:0",)}
    with pytest.raises(AttributeError):
        s.run.repetitions = 5  # type: ignore[misc]


def test_run_history_key_turns_off_recording_the_run() -> None:
    assert parse("[[models]]\nzoo = \"mnist_cnn\"\n[run]\nhistory = false\n").run.history is False
    assert parse("[[models]]\nzoo = \"mnist_cnn\"\n").run.history is True


def test_default_scenario_is_the_zero_config_sweep() -> None:
    s = scenario.default(("cpu", "gpu:0"))
    assert s.models[0].zoo == "mnist_cnn"
    assert s.sweep.formats == ("checkpoint", "frozen", "saved_model", "keras", "tflite")
    assert s.sweep.batch_sizes == (1, 8, 32, 128)
    assert s.sweep.devices == ("cpu", "gpu:0")
    assert "mnist_cnn" in s.text
    # the measured choice (benchmarks/results/loop_length.txt): short loops, the time goes to more processes
    assert (s.policy.warmup_time, s.policy.min_time, s.policy.max_time) == (0.1, 0.1, 0.2)
    assert (s.run.repetitions, s.run.time_budget) == (5, 90)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nformats = [\"frozn\"]\n", "s.toml:4: sweep.formats: unknown format 'frozn'"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nbatch_sizes = [1, 0]\n", "s.toml:4: sweep.batch_sizes: must be an integer >= 1, got 0"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nbatch_sizes = []\n", "s.toml:4: sweep.batch_sizes: must be a non-empty list"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\ninter_op_threads = [-2]\n",
         "s.toml:4: sweep.inter_op_threads: must be -1 (the caller's thread), 0 (TensorFlow's default) or a count, got -2"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nintra_op_threads = [-1]\n",
         "s.toml:4: sweep.intra_op_threads: must be 0 (TensorFlow's default) or a count, got -1"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nbatch_sizes = [8, 8]\n", "lists a value twice"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\ndevices = [\"tpu\"]\n", "s.toml:4: sweep.devices: unknown device 'tpu'; use cpu, gpu or gpu:N"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\naffinity = [\"zero\"]\n", "s.toml:4: sweep.affinity: 'zero' is not a CPU list"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nbatchsizes = [1]\n", "s.toml:4: sweep.batchsizes: unknown key; allowed here: formats, batch_sizes"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep.env]\n\"1BAD\" = [\"1\"]\n", "sweep.env.1BAD: is not a valid environment variable name"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n\n[measure]\nmax_time = 0.5\nmin_time = 2\n", "s.toml:5: measure.max_time: must be >= min_time (2.0), got 0.5"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[measure]\nci_target = 5\n", "s.toml:4: measure.ci_target: must be a fraction between 0 and 1"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[measure]\nmin_time = \"1s\"\n", "s.toml:4: measure.min_time: must be a number >= 0"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[measure]\nturn_calls = 0\n", "s.toml:4: measure.turn_calls: must be an integer >= 1, got 0"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[measure]\nswitch_warmup = -1\n", "s.toml:4: measure.switch_warmup: must be an integer >= 0, got -1"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[run]\nrepetitions = 0\n", "s.toml:4: run.repetitions: must be an integer >= 1, got 0"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[run]\nrepetitions = true\n", "run.repetitions: must be an integer >= 1, got True"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[run]\nhistory = \"no\"\n", "s.toml:4: run.history: must be true or false, got 'no'"),
        ("[sweep]\nbatch_sizes = [1]\n", "s.toml:1: models: no models"),
        ("[[models]]\nzoo = \"resnet\"\n", "s.toml:2: models[0].zoo: unknown zoo model 'resnet'; the zoo has mnist_cnn"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n\n[[models]]\nzoo = \"text_cnn\"\npath = \"a.pb\"\n", "s.toml:4: models[1]: give exactly one of"),
        ("[[models]]\nname = \"x\"\npath = \"a.pb\"\nformat = \"pb\"\n", "s.toml:4: models[0].format: unknown format 'pb'"),
        ("[[models]]\npath = \"a.pb\"\nformat = \"frozen\"\n", "models[0]: a model given by path or files needs a `name`"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[[models]]\nzoo = \"mnist_cnn\"\n", "s.toml:3: models[1].name: model name 'mnist_cnn' is used twice"),
        ("[[models]]\nname = \"x\"\nfiles = { frozen = \"a.pb\" }\nformats = [\"tflite\"]\n", "s.toml:4: models[0].formats: 'tflite' needs a file this model does not give"),
        ("[[models]]\nzoo = \"mnist_cnn\"\nsignatur = \"x\"\n", "s.toml:3: models[0].signatur: unknown key"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[[exclude]]\n", "s.toml:3: exclude[0]: is empty"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[[exclude]]\nformat = \"tflite\"\ncolour = \"red\"\n", "s.toml:5: exclude[0].colour: unknown key"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[[exclude]]\nbatch_size = \"big\"\n", "exclude[0].batch_size: must be an integer"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweeps]\n", "s.toml:3: sweeps: unknown key; allowed here: run, measure"),
        ("[[models]\nzoo = 1\n", "s.toml:1: not valid TOML"),
        ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nformats = \"frozen\"\n", "s.toml:4: sweep.formats: must be a non-empty list, got 'frozen'"),
    ],
)
def test_each_mistake_names_file_key_and_line(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_inter_op_minus_one_is_the_callers_thread_in_the_sweep_and_in_exclusions() -> None:
    from bench.scenario.sweep import expand

    text = ("[[models]]\nzoo = \"mnist_cnn\"\n[sweep]\nformats = [\"frozen\", \"saved_model\"]\n"
            "intra_op_threads = [1]\ninter_op_threads = [0, -1]\n")
    s = parse(text + "[[exclude]]\nformat = \"saved_model\"\ninter_op_threads = -1\n")
    assert s.sweep.inter_op_threads == (0, -1)
    assert s.exclude[0].match["inter_op_threads"] == (-1,)
    ids = {g.key.group_id.split("/")[-1] for g in expand(s).groups}
    assert ids == {"t1x0", "t1xcaller"}
    with pytest.raises(ScenarioError) as info:  # a SavedModel's functions run on the pool: refused before anything runs
        expand(parse(text))
    assert str(info.value).startswith("s.toml:6: sweep.inter_op_threads: -1 (the caller's thread) applies to sessions "
                                      "(checkpoint, frozen graph), but mnist_cnn saved_model run on")


def test_second_model_entry_is_located_not_the_first() -> None:
    text = "[[models]]\nzoo = \"mnist_cnn\"\nsignature = \"a\"\n\n[[models]]\nname = \"b\"\nfiles = { frozen = \"x.pb\" }\nsignature = 3\n"
    assert error_of(text).startswith("s.toml:8: models[1].signature: must be a string")


def test_load_reads_the_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[[models]]\nname = \"m\"\npath = \"sub/f.pb\"\nformat = \"frozen\"\n")
    s = scenario.load(path)
    assert s.models[0].files == {"frozen": str(tmp_path / "sub" / "f.pb")}
    assert s.path == str(path)
    with pytest.raises(ScenarioError, match="no such scenario file"):
        scenario.load(tmp_path / "missing.toml")


def test_shipped_scenarios_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "scenarios"
    files = sorted(root.glob("*.toml"))
    assert {"throughput.toml", "ckpt_vs_frozen.toml", "ci.toml"} <= {f.name for f in files}
    for f in files:
        scenario.load(f)
    assert scenario.load(root / "ci.toml").run.repetitions >= 5


def test_path_without_format_is_detected_when_the_sweep_expands(tmp_path: Path) -> None:
    from bench.scenario import sweep
    from infer_core.errors import ModelNotFound

    (tmp_path / "m.tflite").write_bytes(b"TFL3")
    s = scenario.parse('[[models]]\nname = "m"\npath = "m.tflite"\n[sweep]\nformats = ["tflite", "frozen"]\n', "s.toml", tmp_path)
    assert s.models[0].files == {} and s.models[0].detect == str(tmp_path / "m.tflite")
    e = sweep.expand(s)
    assert {c.key.variant for c in e.cells} == {"tflite"} and e.unavailable == (("m", "frozen"),)
    missing = scenario.parse('[[models]]\nname = "m"\npath = "gone.pb"\n', "s.toml", tmp_path)
    with pytest.raises(ModelNotFound, match="gone.pb: no such file"):
        sweep.expand(missing)
