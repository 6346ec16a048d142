"""The preflight's content checks (bench.scenario.contents, bench.scenario.wire) on hand-made bytes and on the
files the zoo exports: every real file passes, every surely broken one is refused with one line naming it.
No TensorFlow here (h5py writes the HDF5 files, protobuf's own parser is the reference for the wire walk)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.scenario.contents import ModelFile, problem
from bench.scenario.preflight import file_problem
from bench.scenario.wire import LEN, VARINT, WireError, top_level_fields

# ------------------------------------------------------------------ hand-made protobuf bytes


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, wire_type: int, payload: bytes = b"") -> bytes:
    body = varint(len(payload)) + payload if wire_type == LEN else payload
    return varint(number << 3 | wire_type) + body


NODE = field(1, LEN, b"input") + field(2, LEN, b"Placeholder")  # NodeDef: 1 = name, 2 = op
GRAPH = field(1, LEN, NODE) + field(1, LEN, field(1, LEN, b"out") + field(2, LEN, b"Identity")) \
    + field(4, LEN, field(1, VARINT, varint(1700)))  # GraphDef: 1 = node (repeated), 4 = versions
SAVED_MODEL = field(1, VARINT, varint(1)) + field(2, LEN, field(2, LEN, GRAPH))  # 1 = schema version, 2 = meta graphs


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def cuts(size: int, n: int = 40) -> list[int]:
    """Lengths to cut a file to: the first bytes, the last bytes, and evenly spread between."""
    return sorted({1, 2, 7, 8, 9, size - 1, size - 2, *range(1, size, max(1, size // n))} - {0, size})


# ------------------------------------------------------------------ the wire walk


def test_the_wire_walk_counts_the_top_level_fields() -> None:
    assert top_level_fields(GRAPH) == {(1, LEN): 2, (4, LEN): 1}
    assert top_level_fields(SAVED_MODEL) == {(1, VARINT): 1, (2, LEN): 1}
    group = field(7, 3) + field(1, VARINT, varint(5)) + field(7, 4)  # a group's inner fields are not top level
    assert top_level_fields(field(5, 1, bytes(8)) + group + field(6, 5, bytes(4))) == {(5, 1): 1, (7, 3): 1, (6, 5): 1}


@pytest.mark.parametrize(("data", "offset", "what"), [
    (b"\x08", 1, "a number cut short"),
    (field(1, LEN, NODE)[:-1], 0, "field 1 running 1 bytes past the end"),
    (GRAPH + b"\x0e", len(GRAPH), "wire type 6"),
    (b"\x0f", 0, "wire type 7"),
    (field(3, 4), 0, "the end of a group 3 that was never started"),
    (field(3, 3) + field(4, 4), 1, "the end of a group 4 that was never started"),
    (field(3, 3), 1, "group 3 never ended"),
    (b"\x08" + b"\xff" * 10, 1, "a number longer than 10 bytes"),
    (b"\xff\xff\xff\xff\x10\x00", 0, "beyond the largest"),
])
def test_the_wire_walk_says_where_the_encoding_breaks(data: bytes, offset: int, what: str) -> None:
    with pytest.raises(WireError) as exc:
        top_level_fields(data)
    assert exc.value.offset == offset and what in exc.value.what


TOKENS = st.one_of(  # pieces of a message, right and wrong: bare tags (group ends among them), fields, stray bytes
    st.builds(lambda n, wire_type: varint(n << 3 | wire_type), st.integers(0, 3), st.integers(0, 7)),
    st.builds(lambda n, value: field(n, VARINT, varint(value)), st.integers(0, 3), st.integers(0, 2**64 - 1)),
    st.builds(lambda n, payload: field(n, LEN, payload), st.integers(0, 3), st.binary(max_size=4)),
    st.binary(min_size=1, max_size=3),
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(TOKENS, max_size=8).map(b"".join))
def test_the_wire_walk_refuses_exactly_what_protobuf_refuses(data: bytes) -> None:
    """No false alarm: bytes protobuf's own parser reads (every field unknown to google.protobuf.Empty) pass the
    walk, and bytes it refuses fail it; the data are made of tags and fields often, to reach both outcomes."""
    from google.protobuf import empty_pb2, message

    try:
        empty_pb2.Empty().ParseFromString(data)
        protobuf_reads = True
    except message.DecodeError:
        protobuf_reads = False
    try:
        top_level_fields(data)
        walk_reads = True
    except WireError:
        walk_reads = False
    assert walk_reads == protobuf_reads


# ------------------------------------------------------------------ every format the zoo exports passes


def test_every_file_the_zoo_exports_passes(mnist_dir: Path) -> None:
    import json

    files = json.loads((mnist_dir / "manifest.json").read_text())["files"]
    assert {v.partition("+")[0] for v in files} == {"checkpoint", "frozen", "saved_model", "keras", "tflite"}
    for variant, name in files.items():
        assert file_problem(variant, str(mnist_dir / name)) is None, variant
        assert file_problem(None, str(mnist_dir / name)) is None, name
    ckpt = mnist_dir / "checkpoint"
    for path in (ckpt / "model.ckpt", ckpt / "model.ckpt.meta", ckpt / "model.ckpt.index",
                 ckpt / "model.ckpt.data-00000-of-00001"):
        assert problem("checkpoint", ModelFile(path)) is None, path
    assert problem("saved_model", ModelFile(mnist_dir / "saved_model" / "saved_model.pb")) is None
    assert file_problem("saved_model", str(mnist_dir / "saved_model" / "saved_model.pb")) is None


# ------------------------------------------------------------------ frozen GraphDef


def test_a_hand_made_graph_def_passes_and_broken_ones_do_not(tmp_path: Path) -> None:
    assert problem("frozen", ModelFile(write(tmp_path / "g.pb", GRAPH))) is None
    empty = problem("frozen", ModelFile(write(tmp_path / "empty.pb", b"")))
    assert empty == f"{tmp_path / 'empty.pb'}: the file is empty, not a GraphDef"
    versions_only = problem("frozen", ModelFile(write(tmp_path / "v.pb", field(4, LEN, field(1, VARINT, b"\x01")))))
    assert versions_only == f"{tmp_path / 'v.pb'}: the GraphDef has no nodes (truncated or not a frozen graph)"
    text = problem("frozen", ModelFile(write(tmp_path / "notes.pb", b"hello, this is not a graph\n")))
    assert text is not None and text.startswith(f"{tmp_path / 'notes.pb'}: not a valid GraphDef: its protobuf encoding "
                                                "breaks at byte ")
    saved = problem("frozen", ModelFile(write(tmp_path / "sm" / "saved_model.pb", SAVED_MODEL)))
    assert saved == f"{tmp_path / 'sm' / 'saved_model.pb'}: a SavedModel's saved_model.pb, not a frozen GraphDef; " \
                    f"give its directory ({tmp_path / 'sm'})"


def test_a_frozen_graph_cut_anywhere_is_refused(tmp_path: Path, mnist_dir: Path) -> None:
    data = (mnist_dir / "frozen.pb").read_bytes()
    for n in cuts(len(data)):
        found = problem("frozen", ModelFile(write(tmp_path / "cut.pb", data[:n])))
        assert found is not None and found.startswith(f"{tmp_path / 'cut.pb'}: ") and "GraphDef" in found, n


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "the file is empty, not a GraphDef"),
    (b"  \n# only a comment\n\n", "the GraphDef has no nodes (a text file with no content)"),
    (b'node { name: "x" }\n\xff', "not a text GraphDef (not UTF-8 text at byte 19)"),
    (b'node { name: "x" op: "Placeholder" }\n', None),
])
def test_a_text_graph_def(tmp_path: Path, data: bytes, expected: str | None) -> None:
    path = write(tmp_path / "g.pbtxt", data)
    assert problem("frozen", ModelFile(path)) == (None if expected is None else f"{path}: {expected}")


# ------------------------------------------------------------------ SavedModel


def saved_model_copy(tmp_path: Path, mnist_dir: Path) -> Path:
    return Path(shutil.copytree(mnist_dir / "saved_model", tmp_path / "sm"))


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda d: (d / "saved_model.pb").unlink(), "{d}: not a SavedModel (no saved_model.pb inside)"),
    (lambda d: write(d / "saved_model.pb", b""), "{d}/saved_model.pb: the file is empty, not a SavedModel protobuf"),
    (lambda d: write(d / "saved_model.pb", field(1, VARINT, b"\x01")),
     "{d}/saved_model.pb: the SavedModel holds no meta graph (corrupt or truncated)"),
    (lambda d: write(d / "saved_model.pb", bytes(range(7, 256)) * 16),
     "{d}/saved_model.pb: not a valid SavedModel protobuf: its protobuf encoding breaks at byte"),
    (lambda d: (d / "variables" / "variables.index").unlink(),
     "{d}/variables/variables: checkpoint has no .index file ({d}/variables/variables.index); the checkpoint is incomplete"),
    (lambda d: (d / "variables" / "variables.data-00000-of-00001").unlink(),
     "{d}/variables/variables: checkpoint has no .data-* file; the checkpoint is incomplete"),
    (lambda d: write(d / "variables" / "variables.index", (d / "variables" / "variables.index").read_bytes()[:-1]),
     "{d}/variables/variables.index: not a checkpoint index (no table magic number at its end)"),
])
def test_a_damaged_saved_model_is_refused(tmp_path: Path, mnist_dir: Path, damage: Callable[[Path], object],
                                          expected: str) -> None:
    d = saved_model_copy(tmp_path, mnist_dir)
    assert problem("saved_model", ModelFile(d)) is None
    damage(d)
    found = problem("saved_model", ModelFile(d))
    assert found is not None and found.startswith(expected.format(d=d)), found


def test_a_saved_model_without_variables_passes(tmp_path: Path, mnist_dir: Path) -> None:
    d = saved_model_copy(tmp_path, mnist_dir)
    shutil.rmtree(d / "variables")
    assert problem("saved_model", ModelFile(d)) is None  # a graph of constants has none: the loader decides


def test_a_saved_model_pb_cut_anywhere_is_refused(tmp_path: Path, mnist_dir: Path) -> None:
    d = saved_model_copy(tmp_path, mnist_dir)
    data = (d / "saved_model.pb").read_bytes()
    for n in cuts(len(data)):
        write(d / "saved_model.pb", data[:n])
        assert problem("saved_model", ModelFile(d)) is not None, n


# ------------------------------------------------------------------ checkpoint


def checkpoint_copy(tmp_path: Path, mnist_dir: Path) -> Path:
    return Path(shutil.copytree(mnist_dir / "checkpoint", tmp_path / "ck"))


INCOMPLETE = "the checkpoint is incomplete — copy the .index file along with the .data-* files"


def test_a_checkpoint_without_its_index_is_refused_by_every_path_to_it(tmp_path: Path, mnist_dir: Path) -> None:
    d = checkpoint_copy(tmp_path, mnist_dir)
    (d / "model.ckpt.index").unlink()
    expected = f"{d / 'model.ckpt'}: checkpoint has no .index file ({d / 'model.ckpt.index'}); {INCOMPLETE}"
    for path in (d, d / "model.ckpt", d / "model.ckpt.meta", d / "model.ckpt.data-00000-of-00001"):
        assert problem("checkpoint", ModelFile(path)) == expected, path
        assert file_problem("checkpoint", str(path)) == expected, path
    (d / "checkpoint").unlink()  # no state file either: the directory has nothing to name the prefix
    assert problem("checkpoint", ModelFile(d)) == (
        f"{d}: a checkpoint directory with no 'checkpoint' state file and no *.index file; {INCOMPLETE}")


def test_checkpoint_shards_must_all_be_there(tmp_path: Path, mnist_dir: Path) -> None:
    d = checkpoint_copy(tmp_path, mnist_dir)
    data = d / "model.ckpt.data-00000-of-00001"
    data.rename(d / "model.ckpt.data-00000-of-00002")
    write(d / "model.ckpt.data-00001-of-00002", b"")  # an empty shard is a shard
    assert problem("checkpoint", ModelFile(d)) is None
    (d / "model.ckpt.data-00001-of-00002").unlink()
    assert problem("checkpoint", ModelFile(d)) == (
        f"{d / 'model.ckpt'}: checkpoint data shard missing (model.ckpt.data-00001-of-00002); the checkpoint is incomplete")
    (d / "model.ckpt.data-00000-of-00002").unlink()
    assert problem("checkpoint", ModelFile(d)) == f"{d / 'model.ckpt'}: checkpoint has no .data-* file; the checkpoint is incomplete"


def test_a_checkpoint_index_cut_anywhere_is_refused(tmp_path: Path, mnist_dir: Path) -> None:
    d = checkpoint_copy(tmp_path, mnist_dir)
    data = (d / "model.ckpt.index").read_bytes()
    for n in [0, *cuts(len(data))]:
        write(d / "model.ckpt.index", data[:n])
        found = problem("checkpoint", ModelFile(d))
        assert found is not None and found.startswith(f"{d / 'model.ckpt.index'}: ") and "not a checkpoint index" in found, n


def test_the_meta_graph_is_read_only_without_a_builder(tmp_path: Path, mnist_dir: Path) -> None:
    d = checkpoint_copy(tmp_path, mnist_dir)
    meta = (d / "model.ckpt.meta").read_bytes()
    write(d / "model.ckpt.meta", meta[: len(meta) // 2])
    cut = problem("checkpoint", ModelFile(d))
    assert cut is not None and cut.startswith(f"{d / 'model.ckpt.meta'}: not a valid MetaGraphDef: its protobuf encoding")
    assert problem("checkpoint", ModelFile(d, builder="graph.py:build")) is None  # a builder's graph: no .meta read
    (d / "model.ckpt.meta").unlink()
    assert problem("checkpoint", ModelFile(d)) == (
        f"{d / 'model.ckpt'}: no .meta graph next to the checkpoint; give the graph-building code with --builder "
        "FILE.py:FUNCTION (a scenario's builder key)")
    assert problem("checkpoint", ModelFile(d, builder="graph.py:build")) is None


def test_the_state_file_names_the_prefix_as_tensorflow_reads_it(tmp_path: Path, mnist_dir: Path) -> None:
    d = checkpoint_copy(tmp_path, mnist_dir)
    (d / "checkpoint").write_text(f'model_checkpoint_path: "{tmp_path / "gone" / "model.ckpt"}"\n')
    assert problem("checkpoint", ModelFile(d)) is None  # the absolute path of the original: the copy here is used
    (d / "checkpoint").write_text('model_checkpoint_path: "other.ckpt"\n')
    assert problem("checkpoint", ModelFile(d)) == f"{d}: no checkpoint files with prefix {d / 'other.ckpt'}"
    (d / "checkpoint").write_text("a state file this cannot read\n")
    assert problem("checkpoint", ModelFile(d)) is None  # TensorFlow's reader decides, in the worker
    (d / "checkpoint").unlink()
    assert problem("checkpoint", ModelFile(d)) is None  # its one *.index names the prefix
    shutil.copy(d / "model.ckpt.index", d / "other.ckpt.index")
    found = problem("checkpoint", ModelFile(d))
    assert found == f"{d}: 2 *.index files and no 'checkpoint' state file naming one; give the checkpoint prefix " \
                    f"(e.g. {d / 'model.ckpt'})"


# ------------------------------------------------------------------ Keras


def test_a_keras_archive_cut_anywhere_is_refused(tmp_path: Path, mnist_dir: Path) -> None:
    data = (mnist_dir / "model.keras").read_bytes()
    for n in cuts(len(data)):
        found = problem("keras", ModelFile(write(tmp_path / "cut.keras", data[:n])))
        assert found is not None and found.startswith(f"{tmp_path / 'cut.keras'}: not a Keras 3 .keras archive (a .keras "
                                                      "file is a zip; this one does not open"), n


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("m.keras", b"", "the file is empty, not a Keras model"),
    ("m.h5", b"\x89HDF\r\n\x1a\n\x00", None),  # a signature and too little to read more: the loader decides
    ("m.h5", b"", "the file is empty, not a Keras model"),
    ("m.h5", b"just some text\n" * 100, "not an HDF5 file (no HDF5 signature); corrupt or another format"),
    ("m.txt", b"hello\n", "a .txt file, not a Keras model (Keras reads .keras and .h5/.hdf5 files); check the path or --format"),
    ("model", b"hello\n", "a file without an extension, not a Keras model"),
])
def test_a_keras_file_that_is_no_keras_model(tmp_path: Path, name: str, data: bytes, expected: str | None) -> None:
    path = write(tmp_path / name, data)
    found = problem("keras", ModelFile(path))
    assert found is None if expected is None else found is not None and found.startswith(f"{path}: {expected}")


@pytest.mark.parametrize("libver", ["earliest", "v108", "latest"])  # HDF5 superblock versions 0, 2 and 3
def test_an_hdf5_file_passes_and_its_cut_copies_do_not(tmp_path: Path, libver: str) -> None:
    import h5py
    import numpy as np

    path = tmp_path / "m.h5"
    with h5py.File(path, "w", libver=libver) as f:
        f["kernel"] = np.arange(4096, dtype=np.float32)
    assert problem("keras", ModelFile(path)) is None
    write(tmp_path / "padded.h5", path.read_bytes() + bytes(64))
    assert problem("keras", ModelFile(tmp_path / "padded.h5")) is None  # bytes past the recorded end are harmless
    data = path.read_bytes()
    for n in (len(data) - 1, len(data) // 2, 200):
        found = problem("keras", ModelFile(write(tmp_path / "cut.h5", data[:n])))
        assert found == f"{tmp_path / 'cut.h5'}: truncated: its HDF5 superblock records {len(data)} bytes, the file has {n}"


def test_an_hdf5_file_after_a_user_block_passes(tmp_path: Path) -> None:
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "m.h5", "w", userblock_size=1024) as f:
        f["kernel"] = np.zeros(16)
    assert problem("keras", ModelFile(tmp_path / "m.h5")) is None


# ------------------------------------------------------------------ TFLite


@pytest.mark.parametrize("name", ["model.tflite", "model_fp16.tflite", "model_int8dyn.tflite", "model_int8.tflite"])
def test_a_flatbuffer_cut_anywhere_is_refused(tmp_path: Path, mnist_dir: Path, name: str) -> None:
    data = (mnist_dir / name).read_bytes()
    assert problem("tflite", ModelFile(mnist_dir / name)) is None
    for n in cuts(len(data)):
        found = problem("tflite", ModelFile(write(tmp_path / name, data[:n])))
        assert found is not None and found.startswith(f"{tmp_path / name}: "), n
        assert "truncated" in found or n < 8, (n, found)


def flatbuffer(buffers: int | None = None) -> bytes:
    """A Model table by hand: root offset, "TFL3", a vtable, the table (version 3; with `buffers`, a vector of that
    many buffer offsets, field 4, whose items are not written: the file ends after the vector's length)."""
    import struct

    if buffers is None:  # vtable at 8: 6 bytes, table 8 bytes, field 0 at +4; the table at 16 (soffset 8)
        return struct.pack("<I4sHHHxxiI", 16, b"TFL3", 6, 8, 4, 8, 3)
    # vtable at 8: 14 bytes (fields 0-4), table 12 bytes (soffset, version, buffers offset); the table at 24
    return struct.pack("<I4sHHHHHHHxxiIII", 24, b"TFL3", 14, 12, 4, 0, 0, 0, 8, 16, 3, 4, buffers)


def test_a_hand_made_flatbuffer(tmp_path: Path) -> None:
    path = write(tmp_path / "model.tflite", flatbuffer())
    assert problem("tflite", ModelFile(path)) is None
    write(path, flatbuffer()[:-1])
    assert problem("tflite", ModelFile(path)) == f"{path}: truncated: its flatbuffer points to byte 24, past the end of " \
                                                 "the file (23 bytes)"
    write(path, flatbuffer(buffers=0))
    assert problem("tflite", ModelFile(path)) is None
    write(path, flatbuffer(buffers=2))  # two buffers said, none there
    assert problem("tflite", ModelFile(path)) == f"{path}: truncated: its flatbuffer points to byte 48, past the end of " \
                                                 "the file (40 bytes)"


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "the file is empty, not a TFLite flatbuffer"),
    (b"\x1c\x00\x00", "the file is truncated, not a TFLite flatbuffer"),
    (b"this is a text file renamed model.tflite\n", "not a TFLite flatbuffer (no 'TFL3' identifier at byte 4)"),
    (b"\xf0\xff\xff\x00TFL3" + bytes(8), "truncated: its flatbuffer points to byte"),
])
def test_a_tflite_file_that_is_no_flatbuffer(tmp_path: Path, data: bytes, expected: str) -> None:
    path = write(tmp_path / "model.tflite", data)
    found = problem("tflite", ModelFile(path))
    assert found is not None and found.startswith(f"{path}: {expected}")


# ------------------------------------------------------------------ the file system


def test_what_cannot_be_read_is_said_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "dir.pb").mkdir()
    assert problem("frozen", ModelFile(tmp_path / "dir.pb")) == f"{tmp_path / 'dir.pb'}: cannot be read (Is a directory)"
    assert problem("tflite", ModelFile(tmp_path / "absent.tflite")) == f"{tmp_path / 'absent.tflite'}: no such file or directory"
    assert problem("onnx", ModelFile(tmp_path / "m.onnx")) is None  # no checker: nothing said
