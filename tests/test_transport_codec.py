"""The transport codec: exact round trips, canonical bytes, and strict, bounded decoding."""

import struct
import tracemalloc

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from net.raft.entries import EntryKind, EntryRun
from net.raft.messages import MT, Msg
from net.raft.state import ConfState, SnapMeta
from net.transport import (
    DecodeError,
    JoinReply,
    JoinRequest,
    Message,
    PeerInfo,
    decode,
    decode_batch,
    encode,
    encode_batch,
)
from net.transport.wire import MAX_TEXT

u64 = st.integers(0, 2**64 - 1)
ids = st.lists(u64, max_size=7).map(tuple)
texts = st.text(max_size=40)


@st.composite
def entry_runs(draw: st.DrawFn) -> EntryRun:
    n = draw(st.integers(0, 12))
    if draw(st.booleans()):
        terms = (draw(u64),) * n
    else:
        terms = tuple(draw(st.lists(u64, min_size=n, max_size=n)))
    kinds = bytes(draw(st.lists(st.sampled_from(EntryKind), min_size=n, max_size=n)))
    payloads = tuple(draw(st.lists(st.binary(max_size=40), min_size=n, max_size=n)))
    return EntryRun(draw(u64), terms, kinds, payloads)


snaps = st.builds(
    SnapMeta, index=u64, term=u64, conf=st.builds(ConfState, voters=ids, learners=ids, index=u64)
)
raft_messages = st.builds(
    Msg,
    type=st.sampled_from(MT),
    frm=u64,
    to=u64,
    term=u64,
    index=u64,
    log_term=u64,
    commit=u64,
    ents=st.none() | entry_runs(),
    reject=st.booleans(),
    hint_index=u64,
    hint_term=u64,
    ctx=st.binary(max_size=20),
    snap=st.none() | snaps,
    offset=u64,
    data=st.binary(max_size=100),
    done=st.booleans(),
)
control_messages = (
    st.builds(JoinRequest, u64, texts, texts)
    | st.builds(JoinReply, st.booleans(), u64, texts, texts)
    | st.builds(PeerInfo, u64, texts, texts, texts)
)
messages = raft_messages | control_messages

APP = Msg(
    MT.APP, 1, 2, 7, index=10, log_term=6, commit=9,
    ents=EntryRun(11, (6, 7, 7), bytes([EntryKind.NORMAL, EntryKind.CONF, 0]), (b"a", b"", b"xyz")),
)  # fmt: skip


@given(messages)
def test_every_message_round_trips(message: Message) -> None:
    assert decode(encode(message)) == message


@given(st.lists(messages, min_size=1, max_size=5))
def test_a_batch_round_trips_in_order(batch: list[Message]) -> None:
    assert decode_batch(encode_batch(map(encode, batch))) == batch


FUZZ = settings(max_examples=1000)


@FUZZ
@given(st.binary(max_size=300))
@example(encode(APP))
def test_arbitrary_bytes_decode_to_their_one_encoding_or_fail_cleanly(data: bytes) -> None:
    try:
        message = decode(data)
    except DecodeError:
        return
    assert encode(message) == data  # canonical: nothing else decodes to this message


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_a_batch_fail_cleanly(data: bytes) -> None:
    try:
        batch = decode_batch(data)
    except DecodeError:
        return
    assert encode_batch(map(encode, batch)) == data


@FUZZ
@given(messages, st.data())
def test_corrupted_encodings_fail_cleanly(message: Message, data: st.DataObject) -> None:
    good = encode(message)
    at = data.draw(st.integers(0, len(good)))
    corruption = data.draw(st.sampled_from(["flip", "cut", "insert", "append"]))
    if corruption == "flip" and at < len(good):
        bad = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    elif corruption == "insert":
        bad = good[:at] + data.draw(st.binary(min_size=1, max_size=8)) + good[at:]
    elif corruption == "append":
        bad = good + data.draw(st.binary(min_size=1, max_size=8))
    else:
        bad = good[:at]
    try:
        decoded = decode(bad)
    except DecodeError:
        return
    assert encode(decoded) == bad


def test_payloads_come_back_as_bytes_sliced_from_the_frame() -> None:
    message = decode(encode(APP))
    assert isinstance(message, Msg) and message.ents is not None
    assert message.ents == APP.ents
    assert all(type(p) is bytes for p in message.ents.payloads)


def test_one_term_for_a_whole_run_is_written_once() -> None:
    payloads = (b"p",) * 1000
    same = Msg(MT.APP, 1, 2, 3, ents=EntryRun(1, (3,) * 1000, bytes(1000), payloads))
    mixed = Msg(MT.APP, 1, 2, 3, ents=EntryRun(1, (2,) + (3,) * 999, bytes(1000), payloads))
    assert len(encode(mixed)) - len(encode(same)) == 8 * 1000 - 8


HEAD = struct.Struct("<BBB9QHI")


def raft_head(mtype: int = MT.APP, flags: int = 0, ctx: int = 0, data: int = 0) -> bytes:
    return HEAD.pack(1, mtype, flags, *[0] * 9, ctx, data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x09", id="unknown tag"),
        pytest.param(raft_head(mtype=99), id="unknown raft type"),
        pytest.param(raft_head(flags=16), id="unknown flag"),
        pytest.param(raft_head(ctx=5) + b"abc", id="ctx longer than the input"),
        pytest.param(raft_head() + b"\x00", id="trailing byte"),
        pytest.param(raft_head(flags=8) + struct.pack("<QIB", 1, 2, 1) + b"\x00" * 8, id="cut run"),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIBQ", 1, 0, 1, 5), id="empty run with a term"
        ),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIB2Q", 1, 2, 0, 5, 5) + bytes(10),
            id="equal terms as a column",
        ),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIBQ", 1, 1, 1, 5) + b"\x07" + bytes(4),
            id="unknown entry kind",
        ),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIBQ", 1, 1, 2, 5) + bytes(5), id="unknown mode"
        ),
        pytest.param(b"\x03\x02" + bytes(8) + bytes(4), id="boolean byte 2"),
        pytest.param(b"\x02" + bytes(8) + b"\x02\x00\xff\xfe" + bytes(2), id="text not UTF-8"),
        pytest.param(
            b"\x02" + bytes(8) + struct.pack("<H", MAX_TEXT + 1) + b"a" * (MAX_TEXT + 1) + bytes(2),
            id="text too long",
        ),
    ],
)
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00\x00\x00\x00", id="empty message"),
        pytest.param(struct.pack("<I", 100) + encode(APP), id="length past the end"),
        pytest.param(struct.pack("<I", len(encode(APP))) + encode(APP) + b"\x00", id="trailing"),
    ],
)
def test_malformed_batches_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_batch(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(raft_head(ctx=0xFFFF, data=0xFFFFFFFF), id="data length"),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIBQ", 1, 0xFFFFFFFF, 1, 5), id="entry count"
        ),
        pytest.param(raft_head(flags=8) + struct.pack("<QIB", 1, 0xFFFFFFFF, 0), id="term column"),
        pytest.param(
            raft_head(flags=8) + struct.pack("<QIBQ", 1, 2, 1, 5) + b"\x00\x00" + b"\xff" * 8,
            id="payload lengths",
        ),
        pytest.param(raft_head(flags=4) + struct.pack("<3QHH", 1, 1, 1, 0xFFFF, 0xFFFF), id="ids"),
    ],
)
def test_forged_lengths_allocate_nothing_large(data: bytes) -> None:
    batch = struct.pack("<I", len(data)) + data
    for decoder, forged in ((decode, data), (decode_batch, batch), (decode_batch, b"\xff" * 8)):
        tracemalloc.start()
        try:
            with pytest.raises(DecodeError):
                decoder(forged)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 1024


def test_the_encoder_refuses_what_it_cannot_represent() -> None:
    with pytest.raises(TypeError):
        encode("not a message")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="columns"):
        encode(Msg(MT.APP, 1, 2, 3, ents=EntryRun(1, (3, 3), b"\x00", (b"", b""))))
    with pytest.raises(ValueError, match="limit"):
        encode(PeerInfo(1, "x" * (MAX_TEXT + 1), "", ""))
    with pytest.raises(struct.error):
        encode(Msg(MT.HB, 1, 2, -1))
