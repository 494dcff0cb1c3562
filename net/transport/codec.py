"""The binary encoding of what peers send each other, one message or a batch of them.

A message is a tag byte, then its fields, little-endian:

- tag 1, a raft :class:`~net.raft.messages.Msg`: one fixed header (type, flags, the nine
  integer fields as u64, the lengths of ``ctx`` and ``data``), the ``ctx`` and ``data`` bytes,
  then the snapshot metadata and the entry run when the flags say they are present. The run
  stays in columns: first index, count, the terms (one u64 when every entry has the same
  term, the usual case), the kinds (one byte each), the payload lengths (u32 each), then the
  payloads back to back. Decoding slices the payloads out of the frame; no per-entry object.
- tags 2-4, :class:`JoinRequest`, :class:`JoinReply`, :class:`PeerInfo`: their fields in
  declaration order (u64, one 0/1 byte, or u16-length-prefixed UTF-8).

A batch, the body of one frame, is one or more messages, each prefixed by its u32 length.

Decoding is strict: anything malformed, truncated, out of range or followed by extra bytes
raises :class:`DecodeError` and nothing else, and a forged count or length is checked against
the bytes actually present before anything is allocated for it. The encoding is canonical
(one byte string per message), so ``encode(decode(x)) == x`` whenever ``decode`` accepts ``x``.
"""

import struct
from collections.abc import Callable, Iterable
from dataclasses import fields
from itertools import accumulate, pairwise
from typing import Any, cast

from net.raft.entries import EntryKind, EntryRun
from net.raft.messages import MT, Msg
from net.raft.state import ConfState, SnapMeta

from .control import JoinReply, JoinRequest, PeerInfo
from .wire import U8, U32, U64, DecodeError, Reader, flag_bytes, text_bytes

__all__ = ["DecodeError", "Message", "decode", "decode_batch", "encode", "encode_batch"]

#: Everything that travels between peers.
Message = Msg | JoinRequest | JoinReply | PeerInfo
_Control = JoinRequest | JoinReply | PeerInfo

TAG_RAFT = 1
_CONTROL_BY_TAG: dict[int, type[_Control]] = {
    2: JoinRequest,
    3: JoinReply,
    4: PeerInfo,
}
_TAG_BY_CONTROL = {cls: tag for tag, cls in _CONTROL_BY_TAG.items()}

# tag, type, flags, frm, to, term, index, log_term, commit, hint_index, hint_term, offset,
# len(ctx), len(data)
_HEAD = struct.Struct("<BBB9QHI")
_REJECT, _DONE, _SNAP, _ENTS = 1, 2, 4, 8
_ALL_FLAGS = _REJECT | _DONE | _SNAP | _ENTS
_SNAP_HEAD = struct.Struct("<3QHH")  # index, term, conf index, number of voters, of learners
_ENTS_HEAD = struct.Struct("<QIB")  # first index, count, 1 if one term for all follows
_ENTRY_MIN = 5  # input bytes every entry costs at least: its kind and its payload length

_MT_BY_VALUE = {t.value: t for t in MT}
_KINDS = bytes(k.value for k in EntryKind)

# a control message field is an int (u64), a bool or a str: how each is written and read
_WRITE: dict[type, Callable[[Any], bytes]] = {int: U64.pack, bool: flag_bytes, str: text_bytes}
_READ: dict[type, Callable[[Reader], Any]] = {int: Reader.u64, bool: Reader.flag, str: Reader.text}
_FIELDS = {cls: tuple((f.name, cast(type, f.type)) for f in fields(cls)) for cls in _TAG_BY_CONTROL}


def encode(message: Message) -> bytes:
    """One message's bytes. Fields out of range (negative, over u64) raise struct.error."""
    if isinstance(message, Msg):
        return _encode_msg(message)
    cls = type(message)
    tag = _TAG_BY_CONTROL.get(cls)
    if tag is None:
        raise TypeError(f"cannot encode {cls.__name__}")
    parts = [U8.pack(tag)]
    parts.extend(_WRITE[kind](getattr(message, name)) for name, kind in _FIELDS[cls])
    return b"".join(parts)


def decode(buf: bytes, start: int = 0, end: int | None = None) -> Message:
    """The message encoded in exactly ``buf[start:end]``; DecodeError if it is not one."""
    reader = Reader(buf, start, end)
    if reader.remaining() < 1:
        raise DecodeError("empty message")
    tag = buf[start]
    if tag == TAG_RAFT:
        message: Message = _decode_msg(reader)
    else:
        cls = _CONTROL_BY_TAG.get(tag)
        if cls is None:
            raise DecodeError(f"unknown message tag {tag}")
        reader.pos += 1
        message = cls(**{name: _READ[kind](reader) for name, kind in _FIELDS[cls]})
    reader.finish()
    return message


def encode_batch(encoded: Iterable[bytes]) -> bytes:
    """A frame body: already encoded messages, each prefixed by its length."""
    parts = []
    for data in encoded:
        parts.append(U32.pack(len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_batch(buf: bytes, end: int | None = None) -> list[Message]:
    """Every message of the frame body ``buf[:end]``, or DecodeError for the whole batch."""
    reader = Reader(buf, 0, end)
    if reader.remaining() == 0:
        raise DecodeError("empty batch")
    messages = []
    while reader.remaining():
        (size,) = reader.unpack(U32)
        start = reader.skip(size)
        messages.append(decode(buf, start, start + size))
    return messages


def _encode_msg(m: Msg) -> bytes:
    flags = _REJECT * m.reject | _DONE * m.done
    if m.snap is not None:
        flags |= _SNAP
    if m.ents is not None:
        flags |= _ENTS
    head = _HEAD.pack(
        TAG_RAFT, m.type, flags, m.frm, m.to, m.term, m.index, m.log_term, m.commit,
        m.hint_index, m.hint_term, m.offset, len(m.ctx), len(m.data),
    )  # fmt: skip
    parts = [head, m.ctx, m.data]
    if m.snap is not None:
        conf = m.snap.conf
        parts.append(
            _SNAP_HEAD.pack(
                m.snap.index, m.snap.term, conf.index, len(conf.voters), len(conf.learners)
            )
        )
        parts.append(_pack_array("Q", conf.voters + conf.learners))
    if m.ents is not None:
        _encode_run(m.ents, parts)
    return b"".join(parts)


def _encode_run(run: EntryRun, parts: list[bytes]) -> None:
    terms = run.terms
    n = len(terms)
    if len(run.kinds) != n or len(run.payloads) != n:
        raise ValueError(f"EntryRun columns differ in length at index {run.first}")
    if n == 0 or terms.count(terms[0]) == n:
        parts.append(_ENTS_HEAD.pack(run.first, n, 1))
        parts.append(U64.pack(terms[0] if n else 0))
    else:
        parts.append(_ENTS_HEAD.pack(run.first, n, 0))
        parts.append(_pack_array("Q", terms))
    parts.append(run.kinds)
    parts.append(_pack_array("I", tuple(map(len, run.payloads))))
    parts.extend(run.payloads)


def _pack_array(code: str, values: tuple[int, ...]) -> bytes:
    return struct.pack(f"<{len(values)}{code}", *values)


def _decode_msg(reader: Reader) -> Msg:
    (
        _, mtype, flags, frm, to, term, index, log_term, commit,
        hint_index, hint_term, offset, ctx_len, data_len,
    ) = reader.unpack(_HEAD)  # fmt: skip
    kind = _MT_BY_VALUE.get(mtype)
    if kind is None:
        raise DecodeError(f"unknown raft message type {mtype}")
    if flags & ~_ALL_FLAGS:
        raise DecodeError(f"unknown flags {flags:#x}")
    ctx = reader.take(ctx_len)
    data = reader.take(data_len)
    snap = _decode_snap(reader) if flags & _SNAP else None
    ents = _decode_run(reader) if flags & _ENTS else None
    return Msg(
        type=kind,
        frm=frm,
        to=to,
        term=term,
        index=index,
        log_term=log_term,
        commit=commit,
        ents=ents,
        reject=bool(flags & _REJECT),
        hint_index=hint_index,
        hint_term=hint_term,
        ctx=ctx,
        snap=snap,
        offset=offset,
        data=data,
        done=bool(flags & _DONE),
    )


def _decode_snap(reader: Reader) -> SnapMeta:
    index, term, conf_index, voters, learners = reader.unpack(_SNAP_HEAD)
    ids = reader.array("Q", voters + learners)
    conf = ConfState(voters=ids[:voters], learners=ids[voters:], index=conf_index)
    return SnapMeta(index=index, term=term, conf=conf)


def _decode_run(reader: Reader) -> EntryRun:
    first, n, uniform = reader.unpack(_ENTS_HEAD)
    if n * _ENTRY_MIN > reader.remaining():
        raise DecodeError(f"{n} entries cannot fit in {reader.remaining()} bytes")
    if uniform == 1:
        term = reader.u64()
        if n == 0 and term != 0:
            raise DecodeError("an empty entry run carries a term")
        terms = (term,) * n
    elif uniform == 0:
        terms = reader.array("Q", n)
        if n < 2 or terms.count(terms[0]) == n:
            raise DecodeError("one term for all entries written as a column")
    else:
        raise DecodeError(f"term column mode {uniform}")
    kinds = reader.take(n)
    if kinds.translate(None, _KINDS):
        raise DecodeError("unknown entry kind")
    lengths = reader.array("I", n)
    bounds = accumulate(lengths, initial=reader.skip(sum(lengths)))
    buf = reader.buf
    payloads = tuple([buf[a:b] for a, b in pairwise(bounds)])
    return EntryRun(first=first, terms=terms, kinds=kinds, payloads=payloads)
