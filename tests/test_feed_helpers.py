"""Helpers of the feed tests (no tests here): a served in-process peer with its feed, and
the slowest consumer there is, a hand-made websocket that never reads until told to."""

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from rpc_helpers import BTC, HOST, Ledger, LocalBackend

from engine import Command, OpenAccount, Submit
from net.feed.client import FeedClient
from net.feed.hub import FeedHub
from net.feed.limits import FeedLimits
from net.rpc import Api, RpcServer

WAIT = 5.0  # seconds any expected message may take


class Peer(LocalBackend):
    """A LocalBackend with an ``epoch``, as net.peer.Peer has."""

    epoch = 0


@dataclass
class Served:
    peer: Peer
    hub: FeedHub
    port: int
    session: aiohttp.ClientSession

    @property
    def ledger(self) -> Ledger:
        return self.peer.ledger

    @property
    def addr(self) -> str:
        return f"{HOST}:{self.port}"

    async def round(self, *commands: Command) -> int:
        """Apply ``commands`` as consecutive entries, then flush once (one round), as a
        node does; returns the last index."""
        for command in commands:
            index, events = self.ledger.apply(command)
            self.hub.on_events(index, events)
        self.hub.flush()
        async with self.ledger.changed:
            self.ledger.changed.notify_all()
        return self.ledger.index

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(f"http://{self.addr}/ws")


@asynccontextmanager
async def serving(
    limits: FeedLimits | None = None, ledger: Ledger | None = None
) -> AsyncIterator[Served]:
    """alice's peer (bob has an account too) served with its feed on 127.0.0.1."""
    peer = Peer("alice", ledger)
    peer.ledger.apply(OpenAccount("bob"))
    hub = FeedHub(peer, limits)
    hub.flush()
    server = RpcServer(Api(peer), feed=hub.handle)
    port = await server.start(HOST, 0)
    async with aiohttp.ClientSession() as session:
        try:
            yield Served(peer, hub, port, session)
        finally:
            await hub.close()
            await server.stop()


def sell(price: int, qty: int, owner: str = "alice", market: str = BTC) -> Submit:
    return Submit(owner, market, "sell", "limit", price, qty)


def buy(price: int, qty: int, owner: str = "bob", market: str = BTC) -> Submit:
    return Submit(owner, market, "buy", "limit", price, qty)


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> dict:
    message = await ws.receive(timeout=WAIT)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def request(ws: aiohttp.ClientWebSocketResponse, payload: object) -> dict:
    """Send ``payload`` (a string as is); the next message."""
    await ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))
    return await next_json(ws)


async def until_message(client: FeedClient, wanted: Callable[[dict], bool]) -> dict:
    """Receive (applying, verifying) until ``wanted(message)``; TimeoutError after WAIT."""
    async with asyncio.timeout(WAIT):
        while True:
            message = await client.receive()
            if wanted(message):
                return message


class RawWebsocket:
    """A websocket client written out by hand on a socket with a 4 KiB receive buffer. It
    reads nothing until :meth:`read_to_close`, so the peer's writes to it back up at once
    (an aiohttp client would read half a megabyte into its own buffer first)."""

    def __init__(self, addr: str) -> None:
        host, port = addr.rsplit(":", 1)
        self.target = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        self.sock.setblocking(False)
        self._data = b""

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, self.target)
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(self.sock, (
            f"GET /ws HTTP/1.1\r\nHost: {self.target[0]}:{self.target[1]}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode())  # fmt: skip
        while b"\r\n\r\n" not in self._data:
            self._data += await self._recv()
        head, self._data = self._data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    async def send(self, payload: dict) -> None:
        """One masked text frame (a client's frames are masked, RFC 6455)."""
        data = json.dumps(payload).encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        frame = bytes([0x81, 0x80 | len(data)]) + mask + masked
        await asyncio.get_running_loop().sock_sendall(self.sock, frame)

    async def read_to_close(self, timeout: float = WAIT) -> tuple[int, str, int]:
        """Read at last, up to the close frame: (close code, reason, text frames before)."""
        texts = 0
        async with asyncio.timeout(timeout):
            while True:
                frame = self._frame()
                if frame is None:
                    self._data += await self._recv()
                    continue
                opcode, payload = frame
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0]
                    return code, payload[2:].decode(), texts
                texts += opcode == 0x1

    def _frame(self) -> tuple[int, bytes] | None:
        """The next whole (unmasked, unfragmented) frame from the buffer, if there is one."""
        data = self._data
        if len(data) < 2:
            return None
        size, at = data[1] & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                return None
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                return None
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < at + size:
            return None
        self._data = data[at + size :]
        return data[0] & 0x0F, data[at : at + size]

    async def _recv(self) -> bytes:
        chunk = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not chunk:
            raise ConnectionError("the peer closed the socket before a close frame")
        return chunk

    def close(self) -> None:
        self.sock.close()
