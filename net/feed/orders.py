"""The orders channel: this peer's trader's own order events, as they are applied.

Accepted, triggered (a stop), each fill (from the engine's ``Trade``, maker or taker side),
amended, cancelled (``status: expired`` for a good-till-date order whose time came),
rejected and done, each with its order id and client id, a ``status``, the consensus
``time`` and the log ``index``. A subscription starts with a snapshot of the trader's open
orders (as the RPC's ``order`` op shows them), so events after it are all a client needs.
A repeated submit's copy of its first ``Done`` is not an event: nothing happened.
"""

from engine import Exchange, Market
from engine.events import (
    CANCEL_EXPIRED,
    Accepted,
    Amended,
    Cancelled,
    Done,
    Event,
    Rejected,
    Trade,
    Triggered,
)
from engine.orders import FILLED, PARTIALLY_FILLED
from net.rpc.views import order_view

from .channels import Broadcast
from .connection import Connection
from .messages import encode
from .protocol import Subscription

ORDER_OPS = frozenset(("submit", "cancel", "cancel_all", "amend"))  # (not transfers...)


class OrdersChannel(Broadcast):
    """The trader's order events in one market, or (``symbol`` None) in all of them."""

    def __init__(self, owner: str, symbol: str | None) -> None:
        super().__init__(symbol)
        self.owner = owner
        self.pending: list[list[Event]] = []  # each applied command's events, since the refresh

    def subscribe(self, conn: Connection, sub: Subscription, exchange: Exchange) -> list[str]:
        self.subscribers.add(conn)
        index = exchange.applied_index
        orders = [
            order_view(exchange.markets[o.market], o, index)
            for o in exchange.open_orders(self.owner, self.symbol)
        ]
        return [
            encode(
                {
                    "channel": "orders",
                    "type": "snapshot",
                    "market": self.symbol,
                    "index": index,
                    "orders": orders,
                }
            )
        ]

    def refresh(self, exchange: Exchange) -> None:
        if not self.pending:
            return
        batches, self.pending = self.pending, []
        symbol, owner = self.symbol, self.owner
        views = [
            view
            for events in batches
            for view in own_events(exchange, owner, events)
            if symbol is None or view["market"] == symbol
        ]
        if views:
            self.broadcast(
                encode(
                    {
                        "channel": "orders",
                        "type": "update",
                        "market": symbol,
                        "index": exchange.applied_index,
                        "events": views,
                    }
                )
            )


def own_events(exchange: Exchange, owner: str, events: list[Event]) -> list[dict]:
    """``owner``'s events among one command's, rendered, in order.

    A taker's fills are followed by its ``Done`` in the same command, so walking backwards
    from the ``Done`` gives what remained after each fill (``remaining_qty``, ``status``)."""
    views: list[dict] = []
    after: dict[int, int] = {}  # order id -> lots remaining at this point, walking back
    for event in reversed(events):
        kind = type(event)
        if kind is Trade:
            assert isinstance(event, Trade)
            market = exchange.markets[event.market]
            if event.taker_owner == owner:
                left = after.get(event.taker_order)
                if left is None:  # (a taker's Done always follows; this is a backstop)
                    order = exchange.order(event.taker_order)
                    left = 0 if order is None else order.remaining_qty
                views.append(_fill(exchange, market, event, event.taker_order, left, "taker"))
                after[event.taker_order] = left + event.qty
            if event.maker_owner == owner:
                left = event.maker_remaining
                views.append(_fill(exchange, market, event, event.maker_order, left, "maker"))
        elif getattr(event, "owner", None) == owner:
            if kind is Done:
                assert isinstance(event, Done)
                if event.duplicate:
                    continue
                after[event.order_id] = event.remaining_qty
            view = _order_event(exchange, event)
            if view is not None:
                views.append(view)
    views.reverse()
    return views


def _fill(
    exchange: Exchange, market: Market, trade: Trade, order_id: int, left: int, liquidity: str
) -> dict:
    side = trade.aggressor if liquidity == "taker" else _other(trade.aggressor)
    return _base(
        exchange, "fill", order_id, None, trade.market, PARTIALLY_FILLED if left else FILLED, trade
    ) | {
        "trade_id": trade.trade_id,
        "side": side,
        "liquidity": liquidity,
        "price": market.price_text(trade.price),
        "qty": market.qty_text(trade.qty),
        "remaining_qty": market.qty_text(left),
    }


def _order_event(exchange: Exchange, event: Event) -> dict | None:
    """An order event of the trader (not a fill) rendered, or None for any other event."""
    if isinstance(event, Accepted):
        m = exchange.markets[event.market]
        return _base(
            exchange, "accepted", event.order_id, event.client_id, event.market, "accepted", event
        ) | {
            "side": event.side,
            "type": event.type,
            "qty": m.qty_text(event.qty),
            "price": None if event.price is None else m.price_text(event.price),
        }
    if isinstance(event, Triggered):
        m = exchange.markets[event.market]
        return _base(
            exchange, "triggered", event.order_id, event.client_id, event.market, "triggered", event
        ) | {
            "side": event.side,
            "trigger": m.price_text(event.trigger),
            "last_price": m.price_text(event.last_price),
        }
    if isinstance(event, Amended):
        m = exchange.markets[event.market]
        return _base(exchange, "amended", event.order_id, None, event.market, "amended", event) | {
            "price": None if event.price is None else m.price_text(event.price),
            "qty": m.qty_text(event.qty),
            "remaining_qty": m.qty_text(event.remaining_qty),
            "trigger": None if event.trigger is None else m.price_text(event.trigger),
        }
    if isinstance(event, Cancelled):
        m = exchange.markets[event.market]
        status = "expired" if event.reason == CANCEL_EXPIRED else "cancelled"
        return _base(exchange, "cancelled", event.order_id, None, event.market, status, event) | {
            "reason": event.reason,
            "remaining_qty": m.qty_text(event.remaining_qty),
        }
    if isinstance(event, Done):
        m = exchange.markets[event.market]
        return _base(
            exchange, "done", event.order_id, event.client_id, event.market, event.status, event
        ) | {
            "reason": event.reason,
            "filled_qty": m.qty_text(event.filled_qty),
            "remaining_qty": m.qty_text(event.remaining_qty),
            "avg_price": m.avg_price_text(event.notional, event.filled_qty),
        }
    if isinstance(event, Rejected) and event.op in ORDER_OPS:
        order = None if event.order_id is None else exchange.order(event.order_id)
        return _base(
            exchange,
            "rejected",
            event.order_id,
            event.client_id,
            None if order is None else order.market,
            "rejected",
            event,
        ) | {
            "op": event.op,
            "code": event.code,
            "reason": event.reason,
        }
    return None


def _base(
    exchange: Exchange,
    kind: str,
    order_id: int | None,
    client_id: str | None,
    market: str | None,
    status: str,
    event: Event,
) -> dict:
    """The fields every order event has; the client id looked up when the event lacks it."""
    if client_id is None and order_id is not None:
        order = exchange.order(order_id)
        client_id = None if order is None else order.client_id
    return {
        "kind": kind,
        "order_id": order_id,
        "client_id": client_id,
        "market": market,
        "status": status,
        "time": event.time,
        "index": event.index,
    }


def _other(side: str) -> str:
    return "sell" if side == "buy" else "buy"
