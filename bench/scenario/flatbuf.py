"""Bounds-checked reads of a flatbuffer (a TFLite model), with no flatbuffers library and no schema.

A flatbuffer is a root offset, tables found through their vtables, and vectors found through offsets. A file cut
short leaves some of them pointing past its end; these reads say where instead of reading garbage. The schema (which
field of which table to follow) is the caller's.
"""

from __future__ import annotations

import mmap
import struct

Buffer = bytes | mmap.mmap


class OutOfBounds(Exception):
    """A table, vtable or vector reaching past the end of the buffer; args[0]: the byte it reaches."""


class Flat:
    """Bounds-checked reads of a flatbuffer: tables through their vtables, vectors through their offsets."""

    def __init__(self, buf: Buffer) -> None:
        self.buf, self.size = buf, len(buf)

    def read(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > self.size:
            raise OutOfBounds(max(pos, 0) + struct.calcsize(fmt))
        return int(struct.unpack_from(fmt, self.buf, pos)[0])

    def table(self, pos: int) -> tuple[int, int]:
        """(table position, vtable position) of the table at `pos`, both inside the file."""
        vtable = pos - self.read("<i", pos)
        for end in (vtable + max(self.read("<H", vtable), 4), pos + self.read("<H", vtable + 2)):
            if end > self.size:
                raise OutOfBounds(end)
        return pos, vtable

    def field(self, table: tuple[int, int], index: int) -> int | None:
        """The position of a table's field, None when absent (the default)."""
        pos, vtable = table
        slot = 4 + 2 * index
        offset = self.read("<H", vtable + slot) if slot + 2 <= self.read("<H", vtable) else 0
        return pos + offset if offset else None

    def vector(self, at: int, item: int) -> tuple[int, int]:
        """(first item's position, length) of the vector an offset at `at` points to, all inside the file."""
        start = at + self.read("<I", at)
        length = self.read("<I", start)
        if start + 4 + item * length > self.size:
            raise OutOfBounds(start + 4 + item * length)
        return start + 4, length
