"""Misbehaving Grenache clients against a dex peer: a reply or a clean close, never a hang.

The peer runs as on a Grenache network (``--grape``). Raw sockets send what a broken or
hostile client might; the stock client's stream mode (``peer.stream``: ``_gr`` header,
chunked body) must be refused with a readable error. Afterwards the peer still answers.
"""

import asyncio
import gzip
import json

from cluster_helpers import Peer
from grenache_helpers import grapes_and_peers, run_js, visible

from net.rpc.framing import DEFAULT_MAX_BODY, SERVICE

CLOSED = b""  # what exchange() returns when the peer closed without a reply


async def exchange(peer: Peer, body: bytes, headers: str = "", send_all: bool = True) -> bytes:
    """One raw HTTP request; the raw response, or CLOSED. AssertionError if it hangs."""
    reader, writer = await asyncio.open_connection(peer.host, peer.port)
    head = (f"POST / HTTP/1.1\r\nHost: {peer.addr}\r\nContent-Length: {len(body)}\r\n"
            f"{headers}\r\n").encode()  # fmt: skip
    try:
        async with asyncio.timeout(10):
            try:
                writer.write(head + (body if send_all else body[:10]))
                await writer.drain()
                if not send_all:
                    writer.write_eof()  # a body cut short
                return await reader.read(1 << 16)
            except ConnectionError:
                return CLOSED
    except TimeoutError:
        raise AssertionError("the peer neither replied nor closed the connection") from None
    finally:
        writer.close()


def error_of(response: bytes, gzipped: bool = False) -> str:
    """The error of a refusal: status 400, body ``[null, error, null]``."""
    status, _, body = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400"), status
    rid, error, data = json.loads(gzip.decompress(body) if gzipped else body)
    assert rid is None and data is None
    return error


async def test_bad_requests_get_a_reply_or_a_clean_close(tmp_path) -> None:
    async with grapes_and_peers(tmp_path) as (grapes, cluster):
        a, _ = await grapes.start()
        peer = await cluster.start("m0", "--grape", a)
        await visible(a, SERVICE, 1)

        assert "not valid JSON" in error_of(await exchange(peer, b'["r1", "dex_rpc", {"op"'))
        assert "rid must be a string" in error_of(await exchange(peer, b'[1,"dex_rpc",{}]'))
        assert "[rid, key, payload]" in error_of(await exchange(peer, b'{"rid": "r1"}'))
        bomb = gzip.compress(b" " * (DEFAULT_MAX_BODY * 4))
        response = await exchange(peer, bomb, "grc-compress: gzip\r\n")
        assert "once decompressed" in error_of(response, gzipped=True)
        huge = b"[" + b" " * (DEFAULT_MAX_BODY * 2) + b"]"
        response = await exchange(peer, huge)
        assert response == CLOSED or "larger than" in error_of(response)
        response = await exchange(peer, b'["r2","dex_rpc",{"op":"status"}]', send_all=False)
        assert response == CLOSED or "could not be read" in error_of(response)

        stream = await run_js("stream-client.js", a, SERVICE, '{"op":"status"}')
        assert "stream mode" in stream.out + stream.err, stream

        assert (await peer.status())["name"] == "m0"  # still serving
        assert peer.proc is not None and peer.proc.poll() is None
