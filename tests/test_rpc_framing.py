"""Grenache framing over real HTTP on loopback: every malformed request gets a JSON error of
the right kind, changes nothing, and leaves the server serving; gzip, keep-alive, any path,
rid echo and stream mode work as spec/rpc.md and research/grenache-protocol.md §3 say."""

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_helpers import BTC, HOST, Body, LocalBackend, Peer, served_in, serving

from net.rpc import Limits, RpcError

SUBMIT = {"op": "submit", "market": BTC, "side": "buy", "price": "100", "qty": "1"}


@pytest.fixture
async def peer():
    async with serving() as served:
        yield served


def frame(payload: object, rid: str = "r1", key: str = "dex_rpc") -> bytes:
    return json.dumps([rid, key, payload]).encode()


def reply(body: bytes, gzipped: bool = False) -> list:
    return json.loads(gzip.decompress(body) if gzipped else body)


async def assert_refused(
    peer: Peer, body: Body, reason: str, headers: dict[str, str] | None = None
) -> None:
    """The body gets [null, "ERR_INVALID: body: ...", null] (400), and nothing changes."""
    digest = peer.backend.exchange.digest()
    headers = headers or {}
    status, content_type, raw = await peer.post(body, headers)
    assert (status, content_type) == (400, "application/json")
    rid, error, data = reply(raw, "gzip" in headers.get("grc-compress", ""))
    assert rid is None and data is None
    assert error.startswith("ERR_INVALID: body: ") and reason in error, error
    assert peer.backend.exchange.digest() == digest
    assert await peer.call({"op": "digest"})  # still serving


# ---------------------------------------------------------------------- well-formed


async def test_a_reply_echoes_the_rid_as_json(peer: Peer) -> None:
    status, content_type, raw = await peer.post(frame({"op": "markets"}, rid="abc-1"))
    assert (status, content_type) == (200, "application/json")
    rid, error, data = reply(raw)
    assert (rid, error) == ("abc-1", None)
    assert [m["symbol"] for m in data] == [BTC, "ETH/USD"]


async def test_an_operation_error_is_200_with_the_rid(peer: Peer) -> None:
    status, _, raw = await peer.post(frame({"op": "nope"}, rid="r9"))
    assert status == 200
    assert reply(raw)[0] == "r9"
    assert reply(raw)[1].startswith("ERR_UNKNOWN_OP: op: ")
    assert reply(raw)[2] is None


@pytest.mark.parametrize("path", ["/", "/anything", "/a/b?c=d"])
@pytest.mark.parametrize("key", ["dex_rpc", "dex_rpc:alice", "dex_peer"])
async def test_any_path_is_served_under_every_announced_key(
    peer: Peer, path: str, key: str
) -> None:
    status, _, raw = await peer.post(frame({"op": "digest"}, key=key), path=path)
    assert status == 200
    assert reply(raw)[2]["index"] == peer.backend.exchange.applied_index


@pytest.mark.parametrize("key", ["another_name", "dex_rpc:bob", "DEX_RPC", ""])
async def test_a_key_this_peer_does_not_announce_is_refused(peer: Peer, key: str) -> None:
    """A request meant for another Grenache service is not served as dex_rpc."""
    status, _, raw = await peer.post(frame({"op": "submit"}, key=key))
    assert status == 200
    assert reply(raw)[1].startswith("ERR_UNKNOWN_OP: key: this peer serves dex_rpc, ")
    assert reply(raw)[2] is None


@given(rid=st.text(max_size=200))
@settings(max_examples=60, deadline=None)
def test_any_string_rid_comes_back_unchanged(rid: str) -> None:
    with asyncio.Runner() as runner, served_in(runner) as peer:
        _, _, raw = runner.run(peer.post(frame({"op": "digest"}, rid=rid)))
        assert reply(raw)[0] == rid


async def test_gzip_both_ways(peer: Peer) -> None:
    headers = {"grc-compress": "gzip"}
    status, _, raw = await peer.post(gzip.compress(frame(SUBMIT, rid="z")), headers=headers)
    assert status == 200
    assert raw[:2] == b"\x1f\x8b"  # the reply is gzipped too
    rid, error, data = reply(raw, gzipped=True)
    assert (rid, error, data["status"]) == ("z", None, "resting")
    assert await peer.call({"op": "order", "order_id": data["order_id"]}, compress=True)


async def test_grc_compress_none_is_plain(peer: Peer) -> None:
    _, _, raw = await peer.post(frame({"op": "digest"}), headers={"grc-compress": "none"})
    assert reply(raw)[1] is None


async def test_invalid_gzip_is_refused_in_gzip(peer: Peer) -> None:
    headers = {"grc-compress": "gzip"}
    await assert_refused(peer, frame(SUBMIT), "not valid gzip", headers=headers)
    truncated = gzip.compress(frame(SUBMIT))[:-6]
    await assert_refused(peer, truncated, "not valid gzip", headers=headers)


async def test_a_gzip_bomb_is_refused_without_inflating_it(peer: Peer) -> None:
    bomb = gzip.compress(b"[" + b" " * (4 << 20) + b"]")  # 4 MiB of JSON in a few KiB
    assert len(bomb) < 10_000
    await assert_refused(peer, bomb, "once decompressed", headers={"grc-compress": "gzip"})


async def test_keep_alive_serves_many_requests_on_one_connection(peer: Peer) -> None:
    reader, writer = await asyncio.open_connection(HOST, peer.server.port)
    try:
        for rid in ("k1", "k2", "k3"):
            writer.write(http_request(frame({"op": "digest"}, rid=rid)))
            status, headers, body = await read_response(reader)
            assert status == 200 and reply(body)[0] == rid
            assert headers.get("connection", "keep-alive").lower() != "close"
        # pipelined: two requests in one write, two replies in order
        writer.write(http_request(frame({"op": "markets"}, rid="p1")) + http_request(frame(1)))
        first, second = await read_response(reader), await read_response(reader)
        assert reply(first[2])[0] == "p1" and reply(second[2])[0] == "r1"
    finally:
        writer.close()
        await writer.wait_closed()


# ---------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"hello", "not valid JSON"),
        (b"{}", "expected a JSON array"),
        (b"[]", "expected a JSON array"),
        (b'["r", "dex_rpc"]', "expected a JSON array"),
        (b'["r", "dex_rpc", {}, 4]', "expected a JSON array"),
        (b'[1, "dex_rpc", {}]', "rid must be a string"),
        (b'[null, "dex_rpc", {}]', "rid must be a string"),
        (b'["r", 7, {}]', "key must be a string"),
        (b'["r", "dex_rpc", {"op": "status"}', "not valid JSON"),
        (b'["r", "dex_rpc", {"price": NaN}]', "NaN is not a JSON number"),
        (b'["r", "dex_rpc", {"price": Infinity}]', "Infinity is not a JSON number"),
        (b'["r", "dex_rpc", {"price": -Infinity}]', "-Infinity is not a JSON number"),
        (b'["r", "dex_rpc", {"op": "status", "op": "submit"}]', "duplicate key"),
        (b'["r", "dex_rpc", ' + b"9" * 5000 + b"]", "not valid JSON"),
        (b'["r", "dex_rpc", {"op": "st\xffatus"}]', "not UTF-8"),
        (b"\xef\xbb\xbf" + frame({"op": "status"}), "not valid JSON"),  # a BOM
        (frame({"op": "status"}).decode().encode("utf-16"), "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
async def test_malformed_bodies_are_refused(peer: Peer, body: bytes, reason: str) -> None:
    await assert_refused(peer, body, reason)


async def test_deep_nesting_the_parser_survives_is_an_operation_error(peer: Peer) -> None:
    payload = {"op": "status", "x": json.loads("[" * 200 + "]" * 200)}
    with pytest.raises(RpcError, match="ERR_INVALID: x: unknown field"):
        await peer.call(payload)


async def test_an_oversized_body_is_refused() -> None:
    async with serving(limits=Limits(max_body=1000)) as small:
        await assert_refused(small, frame({"op": "status", "pad": "x" * 1000}), "larger than 1000")
        await assert_refused(small, chunked(b"[" + b" " * 5000 + b"]"), "larger than 1000")
        assert await small.call({"op": "digest"})
    async with serving() as default:  # 1 MiB
        await assert_refused(default, b" " * ((1 << 20) + 1), f"larger than {1 << 20}")


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    """A body sent with chunked transfer encoding (no Content-Length)."""
    for start in range(0, len(data), 100):
        yield data[start : start + 100]


@given(body=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
@settings(max_examples=100, deadline=None)
def test_random_bytes_get_a_json_error_and_change_nothing(body: bytes) -> None:
    with asyncio.Runner() as runner, served_in(runner) as peer:
        digest = peer.backend.exchange.digest()
        status, content_type, raw = runner.run(peer.post(body))
        assert content_type == "application/json"
        rid, error, data = reply(raw)
        assert (status, rid, data) == (400, None, None)
        assert error.startswith("ERR_INVALID: body: ")
        assert peer.backend.exchange.digest() == digest


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8).filter(lambda key: key != "op"), inner)
    ),
    max_leaves=12,
)


@given(message=json_values)
@settings(max_examples=150, deadline=None)
def test_random_json_gets_an_error_and_changes_nothing(message: object) -> None:
    """JSON that is not a frame, or a frame whose payload has no op: an error, no change."""
    body = json.dumps(message).encode()
    with asyncio.Runner() as runner, served_in(runner) as peer:
        digest = peer.backend.exchange.digest()
        status, _, raw = runner.run(peer.post(body))
        rid, error, data = reply(raw)
        assert error is not None and error.startswith("ERR_")
        assert data is None
        assert status in (200, 400)
        assert (status == 400) == (rid is None)
        assert peer.backend.exchange.digest() == digest


# ---------------------------------------------------------------------- stream mode


STREAM_RID = "6debbc6c-f21b-4b69-9867-550f69d351ca"
STREAM_GR = json.dumps([STREAM_RID, "dex_rpc"])
STREAM_HEAD = (  # as grenache-nodejs-http's peer.stream sends it
    b"POST / HTTP/1.1\r\n"
    b"_gr: %s\r\n"
    b"connection: close\r\ntransfer-encoding: chunked\r\n"
    b'_a: uploadNewPublicStream\r\n_ar: {"foo":"bar"}\r\n'
    b"content-type: application/pdf\r\nHost: 127.0.0.1\r\n\r\n"
)


@pytest.mark.parametrize(
    ("gr", "rest", "rid"),
    [
        (STREAM_GR, b"6\r\nhello \r\n6\r\nstream\r\n0\r\n\r\n", STREAM_RID),
        (STREAM_GR, b"6\r\nhello \r\n", STREAM_RID),  # still streaming
        ('["x", garbage', b"0\r\n\r\n", None),
        ("[" * 5000, b"0\r\n\r\n", None),
    ],
    ids=["whole", "streaming", "garbage", "deep"],
)
async def test_stream_mode_is_refused_at_once(
    peer: Peer, gr: str, rest: bytes, rid: str | None
) -> None:
    """Whole or still streaming, a stream request gets a clear refusal, then the close."""
    reader, writer = await asyncio.open_connection(HOST, peer.server.port)
    try:
        writer.write(STREAM_HEAD % gr.encode() + rest)
        status, headers, body = await asyncio.wait_for(read_response(reader), 5)
        assert (status, headers["content-type"]) == (400, "application/json")
        assert reply(body)[0] == rid and reply(body)[2] is None
        assert reply(body)[1].startswith("ERR_INVALID: stream mode")
        assert await asyncio.wait_for(reader.read(), 15) == b""  # closed, not left hanging
    finally:
        writer.close()
        await writer.wait_closed()


# ---------------------------------------------------------------------- faults


async def test_an_unexpected_exception_is_logged_and_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(LocalBackend):
        def status(self) -> dict:
            raise ZeroDivisionError("a bug")

    async with serving(Broken()) as peer:
        with pytest.raises(RpcError) as raised:
            await peer.call({"op": "status"})
        assert raised.value.code == "ERR_INTERNAL"
        assert "ZeroDivisionError" in caplog.text
        assert await peer.call({"op": "digest"})


async def test_a_body_that_never_arrives_times_out() -> None:
    async with serving(limits=Limits(read_timeout=0.2)) as peer:
        reader, writer = await asyncio.open_connection(HOST, peer.server.port)
        try:
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
            status, _, body = await asyncio.wait_for(read_response(reader), 5)
            assert status == 408
            assert reply(body)[1].startswith("ERR_TIMEOUT: body: not received")
        finally:
            writer.close()
            await writer.wait_closed()


async def test_an_answer_that_never_comes_times_out() -> None:
    backend = LocalBackend()
    backend.hold = asyncio.Event()  # never set: the commit hangs
    async with serving(backend, Limits(handler_timeout=0.2)) as peer:
        with pytest.raises(RpcError, match=r"ERR_TIMEOUT: no answer within 0\.2 s"):
            await peer.call({**SUBMIT, "client_id": "slow"})
        assert backend.exchange.order_by_client_id("alice", "slow") is None


# ---------------------------------------------------------------------- raw HTTP


def http_request(body: bytes, headers: str = "") -> bytes:
    head = f"POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (what the server always sends)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body
