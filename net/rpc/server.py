"""The RPC's HTTP server: Grenache framing over aiohttp, in front of any payload handler.

Whatever arrives gets a JSON reply (``application/json``), never silence, a hang or a crash:
a body that is not a well-formed frame gets ``[null, "ERR_INVALID: ...", null]`` with status
400 (408 when it does not arrive in time), an operation that fails gets
``[rid, "ERR_...: ...", null]`` with status 200, and an unexpected exception is logged and
answered ``ERR_INTERNAL``. Stream-mode requests (the ``_gr`` header of grenache-nodejs-http's
``peer.stream``) are refused with ``ERR_INVALID``: dex has no streaming operation.

It uses aiohttp's low-level server (no router: every method and path lands in one handler, as
with the stock Grenache server) and keeps connections alive between requests. Given a
``feed``, it hands ``GET /ws`` to it: the websocket market-data feed (``docs/feed.md``).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import framing
from .errors import ERR_INTERNAL, ERR_INVALID, ERR_TIMEOUT, RpcError

log = logging.getLogger(__name__)

#: What the server serves: the request's key (the Grenache service name) and payload in,
#: the reply's data out, or RpcError.
Handler = Callable[[str, object], Awaitable[object]]
#: The websocket feed (``net/feed``), served on GET FEED_PATH next to the RPC.
Feed = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
FEED_PATH = "/ws"

COMPRESS_HEADER = "grc-compress"
STREAM_HEADER = "_gr"
_READ_CHUNK = 1 << 16
# Seconds to drain a refused body before closing (closing on unread data resets the
# connection, which can destroy the refusal before the client reads it), and for requests
# in flight to finish when the server stops.
_LINGER = 1.0
_SHUTDOWN_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int = framing.DEFAULT_MAX_BODY  # bytes of a request body, before or after gunzip
    read_timeout: float = 10.0  # seconds for a whole request body to arrive
    handler_timeout: float = 30.0  # seconds for an answer; a backstop behind the node's own


class RpcServer:
    """Serves one handler on one host and port; :meth:`start` it, then :meth:`stop` it."""

    def __init__(
        self, handler: Handler, limits: Limits | None = None, feed: Feed | None = None
    ) -> None:
        self._handler = handler
        self._limits = limits or Limits()
        self._feed = feed  # serves GET FEED_PATH (the websocket feed, docs/feed.md)
        self._runner: web.ServerRunner | None = None
        self.port = 0  # the bound port once started

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0: any free port); return the bound port."""
        server = web.Server(self.handle, access_log=None, lingering_time=_LINGER)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=_SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """aiohttp's entry point: one HTTP request, one JSON reply (or the feed)."""
        if self._feed is not None and request.method == "GET" and request.path == FEED_PATH:
            return await self._feed(request)
        gzipped = "gzip" in request.headers.get(COMPRESS_HEADER, "").lower()
        try:
            stream = request.headers.get(STREAM_HEADER)
            if stream is not None:
                error = RpcError(
                    ERR_INVALID,
                    "stream mode (the _gr header) is not supported: "
                    "send [rid, key, payload] as the request body",
                )
                return _refusal(400, framing.stream_rid(stream), error, gzipped)
            try:
                body = await self._read_body(request)
            except RpcError as error:
                return _refusal(408 if error.code == ERR_TIMEOUT else 400, None, error, gzipped)
            status, reply = await self.answer(body, gzipped)
            return _response(status, reply)
        except Exception:
            log.exception("rpc: unexpected error serving %s %s", request.method, request.path)
            fault = RpcError(ERR_INTERNAL, "unexpected error (logged by the peer)")
            return _refusal(500, None, fault, gzipped)

    async def answer(self, body: bytes, gzipped: bool) -> tuple[int, bytes]:
        """Status and reply for one request body: the framing contract, minus HTTP."""
        try:
            frame = framing.decode_request(body, gzipped, self._limits.max_body)
        except RpcError as error:
            return 400, framing.encode_reply(None, str(error), None, gzipped)
        try:
            async with asyncio.timeout(self._limits.handler_timeout):
                data = await self._handler(frame.key, frame.payload)
            return 200, framing.encode_reply(frame.rid, None, data, gzipped)
        except RpcError as error:
            failure = error
        except TimeoutError:
            failure = RpcError(ERR_TIMEOUT, f"no answer within {self._limits.handler_timeout} s")
        except Exception:
            log.exception("rpc: unexpected error answering %.200r", frame.payload)
            failure = RpcError(ERR_INTERNAL, "unexpected error (logged by the peer)")
        return 200, framing.encode_reply(frame.rid, str(failure), None, gzipped)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        """The whole body, refusing it as soon as it is over the limit or late."""
        limit = self._limits.max_body
        if request.content_length is not None and request.content_length > limit:
            raise framing.body_too_large(limit)
        body = bytearray()
        if request.content_length is not None:  # usually it all came with the headers:
            body += request.content.read_nowait(-1)  # no timer needed then
            if len(body) == request.content_length:
                return bytes(body)
        try:
            async with asyncio.timeout(self._limits.read_timeout):
                while chunk := await request.content.read(_READ_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise framing.body_too_large(limit)
        except TimeoutError:
            raise RpcError(
                ERR_TIMEOUT, f"body: not received within {self._limits.read_timeout} s"
            ) from None
        except (ConnectionError, HttpProcessingError) as error:  # cut short, broken chunking
            raise RpcError(ERR_INVALID, f"body: could not be read ({error})") from None
        return bytes(body)


def _refusal(status: int, rid: str | None, error: RpcError, gzipped: bool) -> web.Response:
    """An error reply after which the connection closes (its body may be unread)."""
    response = _response(status, framing.encode_reply(rid, str(error), None, gzipped))
    response.force_close()
    return response


def _response(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")
