"""The RPC operations of spec/rpc.md: a payload in, the reply's data out.

:class:`Api` is what the server serves. It parses a payload (``requests``), runs writes
through the peer (:class:`net.peer.Peer`: consensus, then apply) and reads from the
peer's applied exchange, and renders the results (``views``). It holds no state of its
own, so any number of requests may be in flight at once.
"""

from engine import Exchange, OrderView

from ..peer import Peer
from . import views
from .errors import ERR_NOT_FOUND, RpcError
from .requests import (
    WRITES,
    AmendRequest,
    BookRequest,
    CancelAllRequest,
    CancelRequest,
    DigestRequest,
    MarketsRequest,
    OrderRequest,
    OrdersRequest,
    StatusRequest,
    SubmitRequest,
    SyncRequest,
    TradesRequest,
    parse_request,
)


class Api:
    """Answers RPC payloads for one peer; an instance is the server's handler."""

    def __init__(self, peer: Peer) -> None:
        self._peer = peer

    async def __call__(self, payload: object) -> object:
        """The data of the reply to ``payload``, or RpcError."""
        peer = self._peer
        if isinstance(payload, dict) and payload.get("op") in WRITES:
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
            case SyncRequest(index=index, timeout=timeout):
                return {"index": await peer.wait_applied(index, timeout)}
        raise AssertionError(f"unhandled request {request!r}")

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
