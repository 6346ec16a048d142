"""A walk over the top level of a protobuf message's wire format, with no protobuf library and no schema.

The preflight uses it to tell a GraphDef, SavedModel or MetaGraphDef file that protobuf would refuse (cut
short, another format, random bytes) without importing TensorFlow. It accepts everything a protobuf parser
accepts at the top level (unknown fields, groups, fields in any order), so a file that fails here fails to
parse in TensorFlow too: what it reports is where the encoding breaks and which fields the message holds.
Nested messages are skipped over by their length, not read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sized
from typing import Protocol

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_VARINT_BYTES = 10  # a 64-bit value
MAX_TAG = 2**32 - 1  # field numbers are below 2**29; a tag is at most 32 bits


class Buffer(Sized, Protocol):
    """Bytes read by index: `bytes`, or an `mmap` of a large file (read without copying it)."""

    def __getitem__(self, index: int, /) -> int: ...


class WireError(ValueError):
    """The bytes are not a protobuf message: `offset` is where the encoding breaks."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"{what} at byte {offset}")
        self.offset, self.what = offset, what


def varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    value = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= end:
            raise WireError(pos, "a number cut short by the end of the data")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if byte < 0x80:
            return value, pos + i + 1
    raise WireError(pos, f"a number longer than {MAX_VARINT_BYTES} bytes")


def _skip(buf: Buffer, wire_type: int, pos: int, end: int) -> int:
    """The position after a field's value (a group's start and end markers carry none)."""
    if wire_type == VARINT:
        return varint(buf, pos, end)[1]
    if wire_type == LEN:
        length, pos = varint(buf, pos, end)
        return pos + length
    return pos + {FIXED64: 8, FIXED32: 4}.get(wire_type, 0)


def top_level_fields(buf: Buffer, start: int = 0, end: int | None = None) -> Counter[tuple[int, int]]:
    """How often each (field number, wire type) occurs at the top level of the message in buf[start:end].

    Raises WireError where the bytes stop being a message: a number or a value cut short by the end, a tag
    beyond 32 bits, wire type 6 or 7, a group closed without being opened (or never closed). Field number 0 is
    invalid by the protobuf spec but kept as an unknown field by protobuf's own parser, so it passes here."""
    end = len(buf) if end is None else end
    pos, groups, seen = start, list[int](), Counter[tuple[int, int]]()
    while pos < end:
        at = pos
        tag, pos = varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        if tag > MAX_TAG:
            raise WireError(at, f"field number {number}, beyond the largest a message can have")
        if wire_type not in (VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32):
            raise WireError(at, f"wire type {wire_type}, which protobuf does not have")
        if wire_type == END_GROUP:
            if not groups or groups.pop() != number:
                raise WireError(at, f"the end of a group {number} that was never started")
            continue
        if not groups:
            seen[number, wire_type] += 1
        if wire_type == START_GROUP:
            groups.append(number)
        pos = _skip(buf, wire_type, pos, end)
        if pos > end:
            raise WireError(at, f"field {number} running {pos - end} bytes past the end")
    if groups:
        raise WireError(end, f"group {groups[-1]} never ended")
    return seen
