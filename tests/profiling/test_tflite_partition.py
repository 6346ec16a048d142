"""Delegate partition recovered from LiteRT's node list (numbers from a real XNNPACK run of the seed CNN
with a dynamic batch: the shape ops stay on built-in kernels, conv and dense+softmax are delegated)."""

from __future__ import annotations

from infer_core.profiling.tflite import describe_partition, partition

DETAILS = [
    {"index": 0, "op": "CONV_2D", "inputs": [0, 6, 2], "outputs": [7]},
    {"index": 1, "op": "SHAPE", "inputs": [7], "outputs": [8]},
    {"index": 2, "op": "STRIDED_SLICE", "inputs": [8, 4, 5, 5], "outputs": [9]},
    {"index": 3, "op": "PACK", "inputs": [9, 3], "outputs": [10]},
    {"index": 4, "op": "RESHAPE", "inputs": [7, 10], "outputs": [11]},
    {"index": 5, "op": "FULLY_CONNECTED", "inputs": [11, 1, -1], "outputs": [12]},
    {"index": 6, "op": "SOFTMAX", "inputs": [12], "outputs": [13]},
    {"index": 7, "op": "DELEGATE", "inputs": [0, 2, 6], "outputs": [7]},
    {"index": 8, "op": "DELEGATE", "inputs": [1, 11], "outputs": [13]},
]


def test_each_delegate_node_owns_the_ops_between_its_inputs_and_outputs() -> None:
    part = partition(DETAILS)
    assert [(p["node"], p["ops"]) for p in part["partition"]] == [(7, [0]), (8, [5, 6])]
    assert part["undelegated"] == [1, 2, 3, 4]
    assert part["partition"][1]["op_types"] == {"FULLY_CONNECTED": 1, "SOFTMAX": 1}
    assert [op["delegate"] for op in part["ops"]] == [7, None, None, None, None, 8, 8]
    assert part["delegated_fraction"] == 3 / 7
    assert describe_partition(part) == "7 ops: 3 taken over by 2 delegate node(s), 4 on built-in kernels"


def test_without_a_delegate_every_op_is_on_built_in_kernels() -> None:
    part = partition(DETAILS[:7])
    assert part["partition"] == [] and part["undelegated"] == list(range(7))
    assert describe_partition(part).endswith("every op runs on LiteRT's built-in kernels")
