"""What a model file's own bytes say before TensorFlow reads them: one checker per format, no TensorFlow.

A worker needs seconds to start TensorFlow before it finds that a model file is empty, cut short or of
another format; a run then measures nothing and writes a results directory full of "no measurements". These
checkers let the parent refuse such a file first (exit 2). Each rejects only what the loader would surely
refuse: an empty file, a missing magic number (`TFL3` at byte 4 of a flatbuffer, the zip directory of a
`.keras` file, the HDF5 signature of an `.h5`), a protobuf encoding that breaks before its end (a GraphDef,
a SavedModel's `saved_model.pb`, a checkpoint's `.meta`), a structure that points past the end of the file
(a TFLite flatbuffer's buffers, an HDF5 file's recorded size), a checkpoint without its `.index` file or a
data shard. A file that passes may still fail to load (an unknown op, a wrong tensor name): the worker says
so, and the cell fails. Each checker returns None or one line that starts with the file's path.
"""

from __future__ import annotations

import mmap
import re
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.scenario.flatbuf import Flat, OutOfBounds
from bench.scenario.wire import LEN, VARINT, WireError, top_level_fields

TFLITE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier, bytes 4-8
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
TABLE_MAGIC = 0xDB4775248B80FB57  # the last 8 bytes of a TensorFlow table file (a checkpoint's .index)
TABLE_FOOTER = 48
SHARD_RE = re.compile(r"\.data-(\d+)-of-(\d+)$")
STATE_RE = re.compile(r"""^\s*model_checkpoint_path\s*:\s*(["'])(.*?)\1\s*$""", re.MULTILINE)
KERAS_ZIP, KERAS_HDF5 = (".keras",), (".h5", ".hdf5")
INCOMPLETE = "the checkpoint is incomplete — copy the .index file along with the .data-* files"


@dataclass(frozen=True)
class ModelFile:
    """A model path and what decides how it loads: a checkpoint with a builder is read without its `.meta`."""

    path: Path
    builder: str | None = None


def problem(base: str, model: ModelFile) -> str | None:
    """What surely stops a model of this base format (checkpoint, frozen, ...) from loading; None: nothing seen."""
    checker = CHECKERS.get(base)
    try:
        return checker(model) if checker is not None else None
    except FileNotFoundError as exc:
        return f"{exc.filename or model.path}: no such file or directory"
    except OSError as exc:
        return f"{exc.filename or model.path}: cannot be read ({exc.strerror or exc})"


@contextmanager
def mapped(path: Path) -> Iterator[mmap.mmap]:
    """The file's bytes without copying them (model files reach gigabytes); the file must not be empty."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        yield m


def _encoding_problem(path: Path, what: str, exc: WireError, size: int) -> str:
    return (f"{path}: not a valid {what}: its protobuf encoding breaks at byte {exc.offset} of {size} "
            f"({exc.what}); the file is corrupt, truncated or of another format")


# ------------------------------------------------------------------ frozen GraphDef (1 = node, 2 = library, 4 = versions)


def frozen(model: ModelFile) -> str | None:
    path = model.path
    if path.stat().st_size == 0:
        return f"{path}: the file is empty, not a GraphDef"
    if path.suffix == ".pbtxt":
        return _text_problem(path, "GraphDef", "the GraphDef has no nodes (a text file with no content)")
    with mapped(path) as buf:
        try:
            fields = top_level_fields(buf)
        except WireError as exc:
            return _encoding_problem(path, "GraphDef", exc, len(buf))
    if fields[1, LEN]:
        return None
    if fields[1, VARINT] and fields[2, LEN]:  # a SavedModel: schema version, then meta graphs
        return f"{path}: a SavedModel's saved_model.pb, not a frozen GraphDef; give its directory ({path.parent})"
    return f"{path}: the GraphDef has no nodes (truncated or not a frozen graph)"


def _text_problem(path: Path, what: str, blank: str) -> str | None:
    """A text-format protobuf: the loader decodes it as UTF-8; nothing but blanks and comments is no message."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{path}: not a text {what} (not UTF-8 text at byte {exc.start})"
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return f"{path}: {blank}"
    return None


# ------------------------------------------------------------------ SavedModel (1 = schema version, 2 = meta graphs)


def saved_model(model: ModelFile) -> str | None:
    directory = model.path.parent if model.path.name == "saved_model.pb" else model.path
    pb = directory / "saved_model.pb"
    if pb.is_file():
        found = _saved_model_pb(pb)
    elif (directory / "saved_model.pbtxt").is_file():
        found = _text_problem(directory / "saved_model.pbtxt", "SavedModel", "the SavedModel holds no meta graph")
    else:
        return f"{directory}: not a SavedModel (no saved_model.pb inside)"
    return found or _variables_problem(directory / "variables")


def _saved_model_pb(pb: Path) -> str | None:
    if pb.stat().st_size == 0:
        return f"{pb}: the file is empty, not a SavedModel protobuf (corrupt or truncated)"
    with mapped(pb) as buf:
        try:
            fields = top_level_fields(buf)
        except WireError as exc:
            return _encoding_problem(pb, "SavedModel protobuf", exc, len(buf))
    return None if fields[2, LEN] else f"{pb}: the SavedModel holds no meta graph (corrupt or truncated)"


def _variables_problem(variables: Path) -> str | None:
    """A SavedModel's variables are a checkpoint with the prefix variables/variables (none at all: no variables)."""
    prefix = variables / "variables"
    if not _prefix_files(prefix):
        return None
    return _prefix_problem(prefix, prefix, through_meta=False)


# ------------------------------------------------------------------ checkpoint: prefix.index + prefix.data-*-of-N (+ .meta)


def checkpoint(model: ModelFile) -> str | None:
    """The prefix is found as the worker finds it (a directory's `checkpoint` state file, or its one .index)."""
    path = model.path
    if path.is_dir():
        prefix, found = _prefix_in_dir(path)
        if prefix is None:
            return found
    elif path.suffix in (".meta", ".index"):
        prefix = path.with_suffix("")
    else:
        prefix = path.with_name(path.name.split(".data-")[0]) if ".data-" in path.name else path
    return _prefix_problem(path, prefix, through_meta=model.builder is None)


def _prefix_in_dir(directory: Path) -> tuple[Path | None, str | None]:
    """(the prefix, None), or (None, what is wrong), or (None, None): the state file says what this cannot read."""
    state = directory / "checkpoint"
    if state.is_file():
        found = STATE_RE.search(state.read_text(encoding="utf-8", errors="replace"))
        if found is None or "\\" in found.group(2):
            return None, None  # escapes, or no path: TensorFlow's text-format reader decides
        named = directory.absolute() / found.group(2)  # an absolute path stays itself
        local = directory.absolute() / named.name
        return (local if named != local and _with(local, ".index").exists() else named), None
    indexes = sorted(directory.glob("*.index"))
    if len(indexes) == 1:
        return indexes[0].with_suffix(""), None
    if not indexes:
        return None, f"{directory}: a checkpoint directory with no 'checkpoint' state file and no *.index file; {INCOMPLETE}"
    return None, (f"{directory}: {len(indexes)} *.index files and no 'checkpoint' state file naming one; "
                  f"give the checkpoint prefix (e.g. {indexes[0].with_suffix('')})")


def _with(prefix: Path, suffix: str) -> Path:
    return prefix.with_name(prefix.name + suffix)


def _prefix_files(prefix: Path) -> list[Path]:
    if not prefix.parent.is_dir():
        return []
    return [p for p in prefix.parent.iterdir() if p.name.startswith(prefix.name)]


def _prefix_problem(given: Path, prefix: Path, through_meta: bool) -> str | None:
    index = _with(prefix, ".index")
    if not index.exists():
        if not _prefix_files(prefix):
            return f"{given}: no checkpoint files with prefix {prefix}"
        return f"{prefix}: checkpoint has no .index file ({index}); {INCOMPLETE}"
    return _shards_problem(prefix) or _index_problem(index) or (_meta_problem(prefix) if through_meta else None)


def _shards_problem(prefix: Path) -> str | None:
    """Every data file of one sharding is there: prefix.data-00000-of-00002 and -00001-of-00002."""
    shards: dict[int, set[int]] = {}
    for p in _prefix_files(prefix):
        found = SHARD_RE.fullmatch(p.name[len(prefix.name):])
        if found:
            shards.setdefault(int(found.group(2)), set()).add(int(found.group(1)))
    if not shards:
        return f"{prefix}: checkpoint has no .data-* file; the checkpoint is incomplete"
    if any(have >= set(range(n)) for n, have in shards.items()):
        return None
    n, have = max(shards.items())
    missing = ", ".join(f"{prefix.name}.data-{i:05d}-of-{n:05d}" for i in sorted(set(range(n)) - have)[:3])
    return f"{prefix}: checkpoint data shard missing ({missing}); the checkpoint is incomplete"


def _index_problem(index: Path) -> str | None:
    """A table file ends in a 48-byte footer whose last 8 bytes are the table magic number."""
    size = index.stat().st_size
    if size < TABLE_FOOTER:
        return f"{index}: {'the file is empty' if size == 0 else f'{size} bytes'}, not a checkpoint index; " \
               "the file is truncated or of another format"
    with index.open("rb") as f:
        f.seek(size - 8)
        magic = struct.unpack("<Q", f.read(8))[0]
    if magic != TABLE_MAGIC:
        return f"{index}: not a checkpoint index (no table magic number at its end); the file is truncated or of another format"
    return None


def _meta_problem(prefix: Path) -> str | None:
    meta = _with(prefix, ".meta")
    if not meta.exists():
        return (f"{prefix}: no .meta graph next to the checkpoint; give the graph-building code with --builder "
                f"FILE.py:FUNCTION (a scenario's builder key)")
    if meta.stat().st_size == 0:
        return f"{meta}: the file is empty, not a MetaGraphDef"
    with mapped(meta) as buf:
        try:
            top_level_fields(buf)
        except WireError as exc:
            return _encoding_problem(meta, "MetaGraphDef", exc, len(buf))
    return None


# ------------------------------------------------------------------ Keras: a zip (.keras) or HDF5 (.h5, .hdf5)


def keras(model: ModelFile) -> str | None:
    path, suffix = model.path, model.path.suffix.lower()
    if suffix not in KERAS_ZIP + KERAS_HDF5:  # Keras reads nothing else; say what the file is named
        kind = f"a {model.path.suffix} file" if suffix else "a file without an extension"
        return f"{path}: {kind}, not a Keras model (Keras reads .keras and .h5/.hdf5 files); check the path or --format"
    size = path.stat().st_size
    if size == 0:
        return f"{path}: the file is empty, not a Keras model"
    if suffix in KERAS_ZIP:
        return _zip_problem(path)
    with mapped(path) as buf:
        return _hdf5_problem(path, buf)


def _zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            z.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        return (f"{path}: not a Keras 3 .keras archive (a .keras file is a zip; this one does not open: {exc}); "
                "the file is truncated or of another format")
    return None


def _hdf5_problem(path: Path, buf: mmap.mmap) -> str | None:
    """The signature sits at byte 0, 512, 1024, ... (after a user block); a file shorter than the size its
    superblock records was cut short (HDF5 refuses it: "truncated file")."""
    at = 0
    while at + 8 <= len(buf) and buf[at:at + 8] != HDF5_SIGNATURE:
        at = 512 if at == 0 else at * 2
    if at + 8 > len(buf):
        return f"{path}: not an HDF5 file (no HDF5 signature); corrupt or another format"
    stored = _hdf5_stored_eof(buf) if at == 0 else None
    if stored is not None and stored > len(buf):
        return f"{path}: truncated: its HDF5 superblock records {stored} bytes, the file has {len(buf)}"
    return None


def _hdf5_stored_eof(buf: mmap.mmap) -> int | None:
    """The end-of-file address of a superblock at byte 0 with base address 0; None where it cannot be read."""
    version = buf[8] if len(buf) > 8 else -1
    layout = {0: (13, 24), 1: (13, 28), 2: (9, 12), 3: (9, 12)}.get(version)  # (size-of-offsets byte, base address)
    if layout is None or len(buf) <= layout[0] or buf[layout[0]] not in (4, 8):
        return None
    width, base_at = buf[layout[0]], layout[1]
    fmt = "<I" if width == 4 else "<Q"
    if base_at + 3 * width > len(buf):
        return None
    base, eof = struct.unpack_from(fmt, buf, base_at)[0], struct.unpack_from(fmt, buf, base_at + 2 * width)[0]
    return eof if base == 0 and eof != 2 ** (8 * width) - 1 else None


# ------------------------------------------------------------------ TFLite flatbuffer


def tflite(model: ModelFile) -> str | None:
    path = model.path
    size = path.stat().st_size
    if size < 8:
        return f"{path}: the file is {'empty' if size == 0 else 'truncated'}, not a TFLite flatbuffer"
    with mapped(path) as buf:
        if buf[4:8] != TFLITE_IDENTIFIER:
            return f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier at byte 4); corrupt or another format"
        try:
            _walk_model(Flat(buf))
        except OutOfBounds as exc:
            return (f"{path}: truncated: its flatbuffer points to byte {exc.args[0]}, past the end of the file "
                    f"({size} bytes)")
    return None


MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_BUFFERS = 1, 2, 4  # TFLite schema field ids
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2


def _walk_model(flat: Flat) -> None:
    """The Model table, its operator codes, subgraphs and buffers, and every buffer's bytes lie inside the
    file (a cut-short file points past its end; LiteRT's verifier refuses it)."""
    model = flat.table(flat.read("<I", 0))
    for index in (MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS):
        for at in _table_offsets(flat, model, index):
            flat.table(at + flat.read("<I", at))
    for at in _table_offsets(flat, model, MODEL_BUFFERS):
        _check_buffer(flat, at)


def _table_offsets(flat: Flat, table: tuple[int, int], index: int) -> range:
    """The positions of the offsets in a table's vector-of-tables field (none when the field is absent)."""
    at = flat.field(table, index)
    if at is None:
        return range(0)
    first, count = flat.vector(at, 4)
    return range(first, first + 4 * count, 4)


def _check_buffer(flat: Flat, at: int) -> None:
    buffer = flat.table(at + flat.read("<I", at))
    data = flat.field(buffer, BUFFER_DATA)
    if data is not None:
        flat.vector(data, 1)
    offset_at, size_at = flat.field(buffer, BUFFER_OFFSET), flat.field(buffer, BUFFER_SIZE)
    offset = flat.read("<Q", offset_at) if offset_at is not None else 0
    if offset > 1:  # a model over 2 GB: the bytes follow the flatbuffer, at an offset from the file's start
        end = offset + (flat.read("<Q", size_at) if size_at is not None else 0)
        if end > flat.size:
            raise OutOfBounds(end)


CHECKERS: Mapping[str, Callable[[ModelFile], str | None]] = {
    "checkpoint": checkpoint, "frozen": frozen, "saved_model": saved_model, "keras": keras, "tflite": tflite,
}
