"""Reading untrusted bytes without trusting them: every length is checked before it is used.

The codec and the handshake parse what arrives from the network with :class:`Reader`, so a
truncated, oversized or padded input fails in one place, as :class:`DecodeError`, and a
forged length can never make the parser allocate more than the input it was given.
"""

import struct

U8 = struct.Struct("<B")
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")

#: Longest text field (UTF-8 bytes): names, addresses, cluster ids, reasons.
MAX_TEXT = 1024


class DecodeError(Exception):
    """The bytes are not a well-formed message; the text says what is wrong, for logs."""


class Reader:
    """A cursor over ``buf[pos:end]`` that refuses to read past ``end``."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        start = self.skip(n)
        return self.buf[start : start + n]

    def skip(self, n: int) -> int:
        """Step over ``n`` bytes without copying them; return where they start."""
        start = self.pos
        if start + n > self.end:
            raise DecodeError(f"truncated: {n} bytes wanted at offset {start}, {self.end} end")
        self.pos = start + n
        return start

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        start = self.pos
        stop = start + fmt.size
        if stop > self.end:
            raise DecodeError(f"truncated: {fmt.size} bytes wanted at offset {start}")
        self.pos = stop
        return fmt.unpack_from(self.buf, start)

    def array(self, code: str, count: int) -> tuple[int, ...]:
        """``count`` little-endian integers of struct type ``code``, checked against the input."""
        size = struct.calcsize(code) * count
        if self.pos + size > self.end:
            raise DecodeError(f"truncated: {count} x {code} at offset {self.pos}")
        values = struct.unpack_from(f"<{count}{code}", self.buf, self.pos)
        self.pos += size
        return values

    def u64(self) -> int:
        return self.unpack(U64)[0]

    def flag(self) -> bool:
        value = self.unpack(U8)[0]
        if value > 1:
            raise DecodeError(f"boolean byte is {value}")
        return value == 1

    def text(self) -> str:
        (n,) = self.unpack(U16)
        if n > MAX_TEXT:
            raise DecodeError(f"text of {n} bytes is over the {MAX_TEXT} limit")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError as error:
            raise DecodeError(f"text is not UTF-8 ({error.reason})") from None

    def finish(self) -> None:
        """Refuse trailing bytes: a message is exactly its encoding."""
        if self.pos != self.end:
            raise DecodeError(f"{self.end - self.pos} trailing bytes")


def text_bytes(value: str) -> bytes:
    """The encoding :meth:`Reader.text` reads; ValueError over :data:`MAX_TEXT`."""
    data = value.encode("utf-8")
    if len(data) > MAX_TEXT:
        raise ValueError(f"text of {len(data)} bytes is over the {MAX_TEXT} limit")
    return U16.pack(len(data)) + data


def flag_bytes(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"
