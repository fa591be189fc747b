"""Whole Thrift binary messages read from a stream socket in bounded memory and time.

thriftpy2 decodes straight from the socket and trusts every size the peer declares: a reply
claiming a 2 GB string or a list of two billion empty structs costs that memory, and a list of
an unknown type loops without reading. `MessageReader.read` walks one message's structure
first, checking each type, each declared size and the totals against `Limits`, and keeps its
bytes; only then does thriftpy2 decode those bytes, from memory.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

# TType numbers of the binary protocol.
STOP, BOOL, BYTE, DOUBLE, I16, I32, I64, STRING, STRUCT, MAP, SET, LIST = (
    0, 2, 3, 4, 6, 8, 10, 11, 12, 13, 14, 15,
)  # fmt: skip
FIXED_SIZE = {BOOL: 1, BYTE: 1, DOUBLE: 8, I16: 2, I32: 4, I64: 8}
# The fewest bytes one value of a type takes on the wire: what a declared count must back.
SMALLEST = {**FIXED_SIZE, STRING: 4, STRUCT: 1, MAP: 6, SET: 5, LIST: 5}
VERSION_1 = -2147418112  # 0x80010000 as a signed i32
VERSION_MASK = -65536  # 0xffff0000
CHUNK = 64 * 1024
# The longest one socket wait lasts: a long wait for an answer is a series of these. On Windows a
# signal does not interrupt a socket wait (no EINTR there): Ctrl-C is seen when the wait ends,
# so within a slice, not at the end of --timeout.
WAIT_SLICE = 0.25  # s


@dataclass(frozen=True)
class Limits:
    """What one message may take: bytes on the wire, decoded values, nesting."""

    max_bytes: int = 32 * 1024 * 1024
    max_values: int = 1_000_000  # structs, fields and elements: what decoding turns into objects
    max_depth: int = 32
    max_name: int = 256  # a method name


class WireError(Exception):
    """The peer's bytes are not a Thrift message within the limits; the message says why."""


class Closed(WireError):
    """The peer closed the connection; `partial` tells whether a message had begun."""

    def __init__(self, partial: bool) -> None:
        super().__init__(
            "the server closed the connection in the middle of its answer"
            if partial
            else "the server closed the connection without answering"
        )
        self.partial = partial


class MessageReader:
    """Reads whole messages from `sock`; bytes past a message stay for the next one."""

    def __init__(self, sock: socket.socket, limits: Limits | None = None) -> None:
        self.sock = sock
        self.limits = limits or Limits()
        self._buffer = bytearray()
        self._pos = 0  # where the message being read starts... then how far it is read
        self._deadline = 0.0
        self._values = 0

    def read(self, timeout: float) -> bytes:
        """The next whole message, within `timeout` seconds in all; TimeoutError past it."""
        del self._buffer[: self._pos]
        self._pos = 0
        self._values = 0
        self._deadline = time.monotonic() + timeout
        header = self._i32()
        if header >= 0 or header & VERSION_MASK != VERSION_1:
            raise WireError(
                f"the answer is not a Thrift binary message (it starts with "
                f"{bytes(self._buffer[:8])!r})"
            )
        name_size = self._i32()
        if not 0 <= name_size <= self.limits.max_name:
            raise WireError(f"the answer declares a {name_size}-byte method name")
        self._take(name_size + 4)  # the name, the sequence id
        self._value(STRUCT, self.limits.max_depth)
        return bytes(self._buffer[: self._pos])

    # --- the walk

    def _value(self, ttype: int, depth: int) -> None:
        self._values += 1
        if self._values > self.limits.max_values:
            raise WireError(f"the answer holds more than {self.limits.max_values:,} values")
        if ttype in FIXED_SIZE:
            self._take(FIXED_SIZE[ttype])
        elif ttype == STRING:
            self._take(self._size(self._i32(), 1, "string"))
        elif ttype == STRUCT:
            self._deeper(depth)
            while (field_type := self._byte()) != STOP:
                self._known(field_type)
                self._take(2)  # the field id
                self._value(field_type, depth - 1)
        elif ttype in (LIST, SET):
            self._deeper(depth)
            element = self._known(self._byte())
            for _ in range(self._size(self._i32(), SMALLEST[element], "list")):
                self._value(element, depth - 1)
        elif ttype == MAP:
            self._deeper(depth)
            key, value = self._known(self._byte()), self._known(self._byte())
            for _ in range(self._size(self._i32(), SMALLEST[key] + SMALLEST[value], "map")):
                self._value(key, depth - 1)
                self._value(value, depth - 1)
        else:
            self._known(ttype)

    def _known(self, ttype: int) -> int:
        if ttype not in SMALLEST:
            raise WireError(f"the answer is not valid Thrift: unknown type {ttype}")
        return ttype

    def _deeper(self, depth: int) -> None:
        if depth <= 0:
            raise WireError(f"the answer nests deeper than {self.limits.max_depth} levels")

    def _size(self, count: int, each: int, what: str) -> int:
        """A declared count, refused before anything is read or allocated for it."""
        room = self.limits.max_bytes - self._pos
        if count < 0 or count * each > room or count > self.limits.max_values - self._values:
            raise WireError(
                f"the answer declares a {what} of {count:,} "
                f"{'bytes' if what == 'string' else 'items'}, more than an answer may hold "
                f"({self.limits.max_bytes // 2**20} MiB, {self.limits.max_values:,} values)"
            )
        return count

    # --- bytes

    def _i32(self) -> int:
        return struct.unpack_from("!i", self._buffer, self._take(4))[0]

    def _byte(self) -> int:
        return struct.unpack_from("!b", self._buffer, self._take(1))[0]

    def _take(self, size: int) -> int:
        """Make the next `size` bytes of the message arrive; where they start in the buffer."""
        end = self._pos + size
        if end > self.limits.max_bytes:
            raise WireError(
                f"the answer is longer than the {self.limits.max_bytes // 2**20} MiB it may take"
            )
        while len(self._buffer) < end:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            self.sock.settimeout(min(remaining, WAIT_SLICE))
            try:
                chunk = self.sock.recv(CHUNK)
            except TimeoutError:
                continue  # a slice is over: the deadline decides above
            if not chunk:
                raise Closed(partial=bool(self._buffer))
            self._buffer += chunk
        start, self._pos = self._pos, end
        return start
