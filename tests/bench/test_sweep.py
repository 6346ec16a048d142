"""Expansion into cells, exclude rules, grouping by process key, round-robin interleaving."""

from __future__ import annotations

from pathlib import Path

from bench import scenario
from bench.scenario import sweep

TEXT = """\
[measure]
mode = "separate"
[sweep]
formats = ["frozen", "tflite", "tflite+int8"]
batch_sizes = [32, 1]
devices = ["cpu", "gpu"]
[sweep.env]
TF_ENABLE_ONEDNN_OPTS = ["0", "1"]

[[models]]
zoo = "mnist_cnn"

[[models]]
name = "mine"
files = { frozen = "f.pb" }

[[exclude]]
format = ["tflite", "tflite+int8"]
device = "gpu"

[[exclude]]
env = { TF_ENABLE_ONEDNN_OPTS = "0" }
format = "tflite+int8"
"""


def expansion() -> sweep.Expansion:
    return sweep.expand(scenario.parse(TEXT, "s.toml", Path("/")))


def test_cells_cover_the_product_minus_excludes_and_missing_files() -> None:
    e = expansion()
    # mnist: 3 formats x 2 devices x 2 env x 2 batch = 24; minus tflite/int8 on gpu (2x2x2=8)
    # minus int8 with oneDNN off on cpu (1x1x1x2=2) -> 14. mine: frozen only: 2 dev x 2 env x 2 = 8.
    assert len(e.cells) == 22
    assert e.excluded == 10
    assert e.unavailable == (("mine", "tflite"), ("mine", "tflite+int8"))
    assert not any(c.key.variant.startswith("tflite") and c.key.device == "gpu:0" for c in e.cells)


def test_groups_share_everything_but_batch_size() -> None:
    e = expansion()
    assert len(e.groups) == 11
    for g in e.groups:
        assert [c.batch_size for c in g.cells] == [1, 32]
        assert {c.key for c in g.cells} == {g.key}
    ids = [g.group_id for g in e.groups]
    assert len(set(ids)) == len(ids)
    assert "mnist_cnn/frozen/gpu:0/TF_ENABLE_ONEDNN_OPTS=1" in ids


def test_cell_identity_matches_the_schema_fields() -> None:
    from reports.schema import IDENTITY_FIELDS

    cell = expansion().cells[0]
    assert set(cell.identity()) == set(IDENTITY_FIELDS)
    assert cell.cell_id == f"{cell.key.group_id}/b{cell.batch_size}"


def test_schedule_is_round_robin_over_repetitions() -> None:
    groups = expansion().groups[:3]
    jobs = sweep.schedule(groups, 3)
    assert [(j.group.group_id, j.repetition) for j in jobs] == [
        (g.group_id, r) for r in range(3) for g in groups
    ]


def test_seeded_shuffle_is_repeatable_and_keeps_rounds_whole() -> None:
    groups = expansion().groups
    a = sweep.schedule(groups, 4, shuffle_seed=5)
    b = sweep.schedule(groups, 4, shuffle_seed=5)
    assert [j.group.group_id for j in a] == [j.group.group_id for j in b]
    assert [j.group.group_id for j in a] != [j.group.group_id for j in sweep.schedule(groups, 4)]
    n = len(groups)
    for r in range(4):
        round_jobs = a[r * n:(r + 1) * n]
        assert {j.repetition for j in round_jobs} == {r}
        assert sorted(j.group.group_id for j in round_jobs) == sorted(g.group_id for g in groups)


def test_schedule_skips_finished_cells() -> None:
    groups = expansion().groups[:2]
    done = frozenset({(groups[0].cells[0].cell_id, 0), (groups[1].cells[0].cell_id, 0), (groups[1].cells[1].cell_id, 0)})
    jobs = sweep.schedule(groups, 2, done=done)
    assert [(j.group.group_id, j.repetition, len(j.cells)) for j in jobs] == [
        (groups[0].group_id, 0, 1), (groups[0].group_id, 1, 2), (groups[1].group_id, 1, 2)
    ]


def test_env_canonical_form_round_trips() -> None:
    text = sweep.canonical_env({"B": "1", "A": "0"})
    assert text == "A=0,B=1"
    assert sweep.parse_env(text) == {"A": "0", "B": "1"}
    assert sweep.parse_env("") == {}


def test_interleaved_groups_put_what_loads_together_in_one_worker() -> None:
    e = sweep.expand(scenario.parse(TEXT.replace('mode = "separate"', ""), "s.toml", Path("/")))
    ids = sorted(g.group_id for g in e.groups)
    assert ids == [
        "mine/frozen/cpu/TF_ENABLE_ONEDNN_OPTS=0", "mine/frozen/cpu/TF_ENABLE_ONEDNN_OPTS=1",
        "mine/frozen/gpu:0/TF_ENABLE_ONEDNN_OPTS=0", "mine/frozen/gpu:0/TF_ENABLE_ONEDNN_OPTS=1",
        "mnist_cnn/frozen,tflite,tflite+int8/cpu/TF_ENABLE_ONEDNN_OPTS=1",
        "mnist_cnn/frozen,tflite/cpu/TF_ENABLE_ONEDNN_OPTS=0",
        "mnist_cnn/frozen/gpu:0/TF_ENABLE_ONEDNN_OPTS=0", "mnist_cnn/frozen/gpu:0/TF_ENABLE_ONEDNN_OPTS=1",
    ]
    assert sum(len(g.cells) for g in e.groups) == len(e.cells) == 22


def test_a_builder_checkpoint_and_a_keras_file_need_their_own_workers() -> None:
    text = """
[sweep]
formats = ["checkpoint", "frozen", "keras", "tflite"]
batch_sizes = [1]
calls = ["fastest", "idiomatic"]
[[models]]
name = "seed"
builder = "b.py:build"
files = { checkpoint = "ck/model.ckpt", frozen = "f.pb", keras = "m.keras", tflite = "m.tflite" }
"""
    groups = sweep.expand(scenario.parse(text, "s.toml", Path("/"))).groups
    # tf-keras for the builder's tf.compat.v1.layers, Keras 3 for the .keras file; frozen and tflite load
    # under either and join the Keras 3 worker; the idiomatic calls run in the same worker as the fastest
    assert sorted(g.group_id for g in groups) == ["seed/checkpoint/cpu", "seed/frozen,keras,tflite/cpu"]
    assert {(c.key.variant, c.key.call) for c in groups[1].cells} >= {("keras", "idiomatic"), ("frozen", "fastest")}
