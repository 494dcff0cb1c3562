"""A small asyncio client of the feed: books kept and verified, and resume on any peer.

::

    async with FeedClient("127.0.0.1:7000") as feed:
        await feed.subscribe("book", "BTC/USD")
        await feed.subscribe("trades", "BTC/USD")
        async for message in feed:
            print(feed.books["BTC/USD"].levels("bid")[:1], message)

Every book message is applied to :attr:`FeedClient.books` and its checksum verified
(:class:`~net.feed.localbook.BookMismatch` when the copy is wrong). The client remembers
its subscriptions and, per subscription, the log index up to which it has everything, so
:meth:`FeedClient.resume` can move to *another* peer (every peer applies the same log, so
indexes mean the same everywhere): it subscribes there again with ``since``, and gets the
trades it missed and a book snapshot no older than what it had.
"""

import json
from collections.abc import AsyncIterator
from types import TracebackType

import aiohttp

from .localbook import LocalBook


class FeedClosed(ConnectionError):
    """The peer closed the connection (``code``, ``reason``): 1008 means this client was
    too slow and was dropped."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"the feed closed the connection: {code} {reason}".strip())
        self.code = code
        self.reason = reason


class FeedClient:
    def __init__(self, addr: str, session: aiohttp.ClientSession | None = None) -> None:
        """``addr``: a peer's API ``host:port``."""
        self.addr = addr
        self.books: dict[str, LocalBook] = {}
        self.index = 0  # the highest index of any message received
        self.subscriptions: dict[tuple, dict] = {}  # key -> the subscribe request's fields
        self.since: dict[tuple, int] = {}  # key -> everything up to this index is received
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> "FeedClient":
        await self.connect()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self, addr: str | None = None) -> None:
        """Open the websocket to ``addr`` (default: the last one)."""
        self.addr = addr or self.addr
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(f"http://{self.addr}/ws", autoping=True)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def subscribe(self, channel: str, market: str | None = None, **fields: object) -> None:
        """Ask for a channel (``depth=``, ``interval=``, ``since=``... as docs/feed.md says);
        the reply comes as a message."""
        request = {"channel": channel, "market": market, **fields}
        self.subscriptions[_key(request)] = request
        await self._send({"op": "subscribe", **request})

    async def unsubscribe(self, channel: str, market: str | None = None, **names: object) -> None:
        request = {"channel": channel, "market": market, **names}
        self.subscriptions.pop(_key(request), None)
        await self._send({"op": "unsubscribe", **request})

    async def resume(self, addr: str) -> None:
        """Move to the peer at ``addr`` and subscribe there again to everything, each from
        where this client is: trades replay what came after the last index received, a
        book waits for that index and starts from a snapshot."""
        if self._ws is not None:
            await self._ws.close()
        await self.connect(addr)
        for key, request in self.subscriptions.items():
            since = self.since.get(key)
            if request["channel"] == "book":
                book = self.books.get(request["market"])
                since = book.index if book is not None else since
            if since is not None and request["channel"] in ("book", "trades"):
                request = {**request, "since": since}
            await self._send({"op": "subscribe", **request})

    def __aiter__(self) -> AsyncIterator[dict]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict]:
        while True:
            yield await self.receive()

    async def receive(self, timeout: float | None = None) -> dict:
        """The next message, applied (books, indexes); FeedClosed when the peer closes."""
        assert self._ws is not None, "connect first"
        message = await self._ws.receive(timeout=timeout)
        if message.type is aiohttp.WSMsgType.CLOSE:
            raise FeedClosed(message.data, message.extra or "")
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise FeedClosed(self._ws.close_code, str(message.extra or ""))
        data = json.loads(message.data)
        self._note(data)
        return data

    def _note(self, data: dict) -> None:
        index = data.get("index", 0)
        self.index = max(self.index, index)
        if data.get("event") == "heartbeat":  # everything up to it has been sent
            for key in self.subscriptions:
                self.since[key] = max(self.since.get(key, 0), index)
            return
        key = _key(data)
        if key in self.subscriptions and data.get("event") in (None, "subscribed"):
            self.since[key] = max(self.since.get(key, 0), index)
        if data.get("channel") == "book" and "event" not in data:
            market = data["market"]
            book = self.books.get(market)
            if book is None:
                book = self.books[market] = LocalBook(market)
            book.apply(data)

    async def _send(self, payload: dict) -> None:
        assert self._ws is not None, "connect first"
        await self._ws.send_str(json.dumps({k: v for k, v in payload.items() if v is not None}))


def _key(fields: dict) -> tuple:
    return (fields.get("channel"), fields.get("market"), fields.get("interval"))
