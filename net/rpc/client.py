"""A Python client of the RPC, for tests, benchmarks and the terminal interface.

It speaks the same framing as grenache-nodejs-http's ``PeerRPCClient`` (research/grenache-
protocol.md §3): ``POST /`` with ``[rid, key, payload]``, gzip on request. Every call has a
timeout (the stock client's missing default is a known way to hang forever), the reply's rid
is checked, and every failure arrives as :class:`RpcError`: the peer's own error, or
``ERR_TIMEOUT`` / ``ERR_UNREACHABLE`` / ``ERR_BAD_REPLY`` when no usable reply came.
"""

import gzip
import json
import uuid
import zlib
from decimal import Decimal
from types import TracebackType

import aiohttp

from .errors import ERR_BAD_REPLY, ERR_TIMEOUT, ERR_UNREACHABLE, RpcError
from .framing import SERVICE

DEFAULT_TIMEOUT = 10.0  # seconds


class RpcClient:
    """Calls one peer over a kept-alive connection pool; close it (or use ``async with``)."""

    def __init__(
        self, host: str, port: int, *, key: str = SERVICE, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        self.key = key
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None  # made in the caller's event loop

    async def call(
        self, payload: object, *, compress: bool = False, timeout: float | None = None
    ) -> object:
        """Send ``payload``; return the reply's data or raise RpcError."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        rid = str(uuid.uuid4())
        body = json.dumps([rid, self.key, payload], separators=(",", ":"), default=_amount_text)
        seconds = self.timeout if timeout is None else timeout
        headers = {"grc-compress": "gzip" if compress else "none"}
        try:
            async with self._session.post(
                self.url,
                data=gzip.compress(body.encode()) if compress else body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                raw = await response.read()
        except TimeoutError:
            raise RpcError(ERR_TIMEOUT, f"no reply from {self.url} within {seconds} s") from None
        except aiohttp.ClientError as error:
            raise RpcError(ERR_UNREACHABLE, f"{self.url}: {error}") from None
        return _data(raw, rid, compress)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> "RpcClient":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()


async def call(
    host: str,
    port: int,
    payload: object,
    *,
    compress: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> object:
    """One call on a connection of its own; keep an :class:`RpcClient` for several."""
    async with RpcClient(host, port, timeout=timeout) as client:
        return await client.call(payload, compress=compress)


def _data(raw: bytes, rid: str, compressed: bool) -> object:
    """The data of a reply ``[rid, error, data]``, or RpcError."""
    try:
        reply = json.loads(gzip.decompress(raw) if compressed else raw)
    except (ValueError, OSError, EOFError, zlib.error) as problem:
        raise RpcError(ERR_BAD_REPLY, f"not a JSON reply: {problem}") from None
    if not isinstance(reply, list) or len(reply) != 3:
        raise RpcError(ERR_BAD_REPLY, "expected [rid, error, data]")
    their_rid, error, data = reply
    if error:  # a framing error comes back with a null rid
        raise RpcError.parse(str(error))
    if their_rid != rid:
        raise RpcError(ERR_BAD_REPLY, f"reply to rid {their_rid!r}, expected {rid!r}")
    return data


def _amount_text(value: object) -> str:
    """Decimals travel as strings, the form spec/rpc.md prefers for amounts."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot send {type(value).__name__} as JSON")
