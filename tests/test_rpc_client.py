"""The Python client (net.rpc.client): replies to data, every failure to an RpcError, never a
hang (each call has a timeout), and the reply's rid checked."""

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from aiohttp import web
from rpc_helpers import BTC, HOST, LocalBackend, serving

from net.rpc import RpcClient, RpcError, call

Answer = Callable[[web.BaseRequest], Awaitable[web.Response]]


@pytest.fixture
async def fake_peer() -> AsyncIterator[Callable[[bytes | Answer], Awaitable[int]]]:
    """Starts servers that answer with fixed bytes (or a handler); they stop after the test."""
    runners: list[web.ServerRunner] = []

    async def start(answer: bytes | Answer) -> int:
        if isinstance(answer, bytes):
            body = answer

            async def answer(request: web.BaseRequest) -> web.Response:
                return web.Response(body=body)

        runner = web.ServerRunner(web.Server(answer))
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        runners.append(runner)
        return runner.addresses[0][1]

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_call_sends_decimals_as_plain_strings() -> None:
    async with serving() as peer:
        payload = {
            "op": "submit",
            "market": BTC,
            "side": "buy",
            "price": Decimal("1E+2"),
            "qty": Decimal("0.250"),
            "client_id": "d",
        }
        result = await call(HOST, peer.server.port, payload, compress=True)
        assert isinstance(result, dict) and result["remaining_qty"] == "0.25"
        order = peer.backend.exchange.order_by_client_id("alice", "d")
        assert order is not None and order.price == 1000


async def test_one_client_keeps_its_connection(fake_peer: Callable) -> None:
    async def client_port(request: web.BaseRequest) -> web.Response:
        rid = json.loads(await request.read())[0]
        assert request.transport is not None
        return web.json_response([rid, None, request.transport.get_extra_info("peername")[1]])

    port = await fake_peer(client_port)
    async with RpcClient(HOST, port) as client:
        ports = {await client.call({"op": "digest"}) for _ in range(3)}
    assert len(ports) == 1


async def test_an_unreachable_peer() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    with pytest.raises(RpcError) as raised:
        await call(HOST, port, {"op": "status"}, timeout=5)
    assert raised.value.code == "ERR_UNREACHABLE"


async def test_a_peer_that_does_not_answer_in_time() -> None:
    backend = LocalBackend()
    backend.hold = asyncio.Event()
    async with serving(backend) as peer:
        payload = {"op": "submit", "market": BTC, "side": "buy", "price": "1", "qty": "1"}
        with pytest.raises(RpcError, match="ERR_TIMEOUT: no reply from"):
            await peer.client.call(payload, timeout=0.1)
        backend.hold.set()


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"", "ERR_BAD_REPLY", "not a JSON reply"),
        (b"boom", "ERR_BAD_REPLY", "not a JSON reply"),
        (b'{"a": 1}', "ERR_BAD_REPLY", "expected [rid, error, data]"),
        (b'["someone-else", null, 1]', "ERR_BAD_REPLY", "reply to rid 'someone-else'"),
        (b'["x", "ERR_DEMO_FAILURE", null]', "ERR_DEMO_FAILURE", ""),  # stock servers' style
        (b'[null, "ERR_INVALID: body: nope", null]', "ERR_INVALID", "body: nope"),
    ],
)
async def test_bad_or_failed_replies(
    fake_peer: Callable, body: bytes, code: str, message: str
) -> None:
    port = await fake_peer(body)
    with pytest.raises(RpcError) as raised:
        await call(HOST, port, {"op": "status"})
    assert (raised.value.code, raised.value.message[: len(message)]) == (code, message)


async def test_a_gzip_call_needs_a_gzip_reply(fake_peer: Callable) -> None:
    port = await fake_peer(json.dumps(["r", None, 1]).encode())
    with pytest.raises(RpcError, match="ERR_BAD_REPLY: not a JSON reply"):
        await call(HOST, port, {"op": "status"}, compress=True)
    port = await fake_peer(gzip.compress(b'[null, "ERR_BUSY: later", null]'))
    with pytest.raises(RpcError, match="ERR_BUSY: later"):
        await call(HOST, port, {"op": "status"}, compress=True)
