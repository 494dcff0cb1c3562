"""The RPC operations of spec/rpc.md: a payload in, the reply's data out.

:class:`Api` is what the server serves. It parses a payload (``requests``), runs writes
through the peer (:class:`net.peer.Peer`: consensus, then apply) and reads from the
peer's applied exchange, and renders the results (``views``). It holds no state of its
own, so any number of requests may be in flight at once.

Two gates come before parsing: the request's Grenache key must be one of the names this
peer announces (``ERR_UNKNOWN_OP`` otherwise: a request meant for another service is not
served as ``dex_rpc``), and a write must carry the peer's API token in ``token`` when the
peer was given one to require (off loopback; ``ERR_FORBIDDEN`` otherwise). The token is
compared in constant time.
"""

import hmac

from engine import Exchange, OrderView

from ..peer import Peer
from ..traders import fingerprint
from . import views
from .errors import ERR_FORBIDDEN, ERR_NOT_FOUND, ERR_UNKNOWN_OP, RpcError
from .framing import announced_names
from .requests import (
    WRITES,
    AmendRequest,
    BalancesRequest,
    BookRequest,
    CancelAllRequest,
    CancelRequest,
    CandlesRequest,
    DigestRequest,
    MarketsRequest,
    OrderRequest,
    OrdersRequest,
    StatusRequest,
    SubmitRequest,
    SyncRequest,
    TickerRequest,
    TradesRequest,
    TransferRequest,
    WhoamiRequest,
    parse_request,
)

TOKEN = "token"  # the payload field that carries the API token


class Api:
    """Answers RPC payloads for one peer; an instance is the server's handler."""

    def __init__(self, peer: Peer, write_token: str | None = None) -> None:
        """``write_token``: None, writes need no token (loopback); "" no write is taken;
        otherwise writes must carry this token."""
        self._peer = peer
        self._write_token = write_token

    async def __call__(self, key: str, payload: object) -> object:
        """The data of the reply to ``payload`` sent under Grenache ``key``, or RpcError."""
        peer = self._peer
        names = announced_names(peer.name)
        if key not in names:
            raise RpcError(ERR_UNKNOWN_OP, f"key: this peer serves {', '.join(names)}, "
                           f"not {key[:40]!r}")  # fmt: skip
        if isinstance(payload, dict):
            token = payload.pop(TOKEN, None)
            if payload.get("op") in WRITES:
                self._authorize(token)
                peer.writable()
        exchange = peer.exchange
        request = parse_request(payload, exchange, peer.owner)
        match request:
            case StatusRequest():
                return peer.status()
            case MarketsRequest():
                return [views.market_view(market) for market in exchange.markets.values()]
            case DigestRequest():
                return {"index": exchange.applied_index, "digest": exchange.digest()}
            case SubmitRequest():
                return await self._submit(request)
            case CancelRequest(command=command):
                index, events = await peer.execute(command)
                return views.cancel_result(peer.exchange, events, index)
            case CancelAllRequest(command=command):
                index, events = await peer.execute(command)
                return views.cancel_all_result(events, index)
            case AmendRequest(command=command, before=before):
                index, events = await peer.execute(command)
                return views.amend_result(peer.exchange, before, events, index)
            case TransferRequest(command=command):
                index, events = await peer.execute(command)
                views.transfer_result(events)
                return {"index": index, "balances": views.balances_view(peer.exchange, peer.owner)}
            case WhoamiRequest():
                key = peer.trader_key
                return {"name": peer.owner, "key": key, "fingerprint": fingerprint(key)}
            case BalancesRequest():
                return views.balances_view(exchange, peer.owner)
            case BookRequest(market=symbol, depth=depth):
                bids, asks = exchange.depth(symbol, depth)
                return views.book_view(exchange.markets[symbol], exchange.applied_index, bids, asks)
            case TradesRequest(market=symbol, since=since, limit=limit):
                market = exchange.markets[symbol]
                trades = exchange.recent_trades(symbol, since, limit)
                return [views.trade_view(market, trade) for trade in trades]
            case OrdersRequest():
                return [self._order_view(exchange, o) for o in self._orders(exchange, request)]
            case OrderRequest(order_id=order_id, client_id=client_id):
                if order_id is not None:
                    found = exchange.order(order_id)
                    missing = f"order_id: no order {order_id}"
                else:
                    assert client_id is not None
                    found = exchange.order_by_client_id(peer.owner, client_id)
                    missing = f"client_id: no order with client id {client_id}"
                if found is None:
                    raise RpcError(ERR_NOT_FOUND, missing)
                return self._order_view(exchange, found)
            case CandlesRequest(market=symbol, interval=interval, limit=limit):
                market = exchange.markets[symbol]
                bars = exchange.candles(symbol, interval, limit)
                return [views.candle_view(market, bar) for bar in bars]
            case TickerRequest(market=symbol):
                ticker = exchange.ticker(symbol)
                return views.ticker_view(exchange.markets[symbol], exchange.time, ticker)
            case SyncRequest(index=index, timeout=timeout):
                return {"index": await peer.wait_applied(index, timeout)}
        raise AssertionError(f"unhandled request {request!r}")

    def _authorize(self, token: object) -> None:
        """ERR_FORBIDDEN unless this write may be made (see the module doc)."""
        wanted = self._write_token
        if wanted is None:
            return
        if not wanted:
            raise RpcError(ERR_FORBIDDEN, "token: this peer takes no writes over its API "
                           "(it listens beyond loopback and was given no --api-token)")  # fmt: skip
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), wanted.encode()):
            raise RpcError(ERR_FORBIDDEN, "token: writes need this peer's API token")

    async def _submit(self, request: SubmitRequest) -> dict:
        """Commit a submit; a failure names the client id the edge generated, if it did,
        since that id is the caller's only way to find out or retry without doubling."""
        try:
            _, events = await self._peer.execute(request.command)
        except RpcError as error:
            if not request.generated_client_id:
                raise
            retry = f"client_id {request.command.client_id}: query or retry with it"
            raise RpcError(error.code, f"{error.message} ({retry})") from None
        return views.submit_result(self._peer.exchange, events)

    def _orders(self, exchange: Exchange, request: OrdersRequest) -> list[OrderView]:
        """This peer's trader's orders after ``since``, oldest first, at most ``limit``.

        Open ones come from the engine's per-owner table. With ``open: false`` the finished
        ones the engine still remembers are wanted too, and the engine keeps no per-owner
        list of those, so every remembered order is scanned.
        """
        owner, market, since = self._peer.owner, request.market, request.since
        if request.open_only:
            found = [o for o in exchange.open_orders(owner, market) if o.order_id > since]
            return found[: request.limit]
        ids = sorted(
            order_id
            for order_id, order in exchange.orders.items()
            if order_id > since and order.owner == owner and market in (None, order.market)
        )
        return [view for view in map(exchange.order, ids[: request.limit]) if view is not None]

    @staticmethod
    def _order_view(exchange: Exchange, order: OrderView) -> dict:
        return views.order_view(exchange.markets[order.market], order, exchange.applied_index)
