"""Views: engine values and events rendered as the data of spec/rpc.md replies.

The engine counts ticks and lots; replies carry plain decimal strings (``"100.25"``, never an
exponent, never a float) made by the market's own ``price_text`` / ``qty_text``. Ids, counts
and log indexes stay JSON integers.

The result of a write is read off the events of its own command, not off the exchange
afterwards, so later commands cannot leak into it and a repeated submit (the engine hands
back the first ``Done``) renders exactly as the first one did.

Average prices are the market's own too (``Market.avg_price_text``: exact when the quotient
ends, else rounded half-even to the tick's places plus ``engine.units.AVG_EXTRA_PLACES``).
"""

from typing import TypeVar

from engine import (
    Amended,
    Cancelled,
    Done,
    Event,
    Exchange,
    Market,
    OrderView,
    Rejected,
    Trade,
)
from engine.events import REJECT_FORBIDDEN, REJECT_INSUFFICIENT_FUNDS, REJECT_NOT_FOUND
from engine.orders import PARTIALLY_FILLED, RESTING, UNTRIGGERED

from .errors import ERR_FORBIDDEN, ERR_INVALID, ERR_NOT_FOUND, RpcError

_E = TypeVar("_E", Amended, Cancelled, Done)

_REJECTION_ERRORS = {REJECT_NOT_FOUND: ERR_NOT_FOUND, REJECT_FORBIDDEN: ERR_FORBIDDEN}


def market_view(market: Market) -> dict:
    return {
        "symbol": market.symbol,
        "base": market.base,
        "quote": market.quote,
        "tick": market.tick,
        "lot": market.lot,
    }


def trade_view(market: Market, trade: Trade) -> dict:
    return {
        "trade_id": trade.trade_id,
        "market": trade.market,
        "price": market.price_text(trade.price),
        "qty": market.qty_text(trade.qty),
        "aggressor": trade.aggressor,
        "maker_order": trade.maker_order,
        "taker_order": trade.taker_order,
        "maker_owner": trade.maker_owner,
        "taker_owner": trade.taker_owner,
        "time": trade.time,
        "index": trade.index,
    }


def candle_view(market: Market, bar: tuple[int, int, int, int, int, int]) -> dict:
    """One OHLCV bar of ``Exchange.candles``: its start (ms of consensus time), decimals."""
    start, open_, high, low, close, volume = bar
    price = market.price_text
    return {"time": start, "open": price(open_), "high": price(high), "low": price(low),
            "close": price(close), "volume": market.qty_text(volume)}  # fmt: skip


def ticker_view(market: Market, time: int, ticker: tuple[int, int, int, int, int] | None) -> dict:
    """The 24 h ticker at consensus ``time`` (nulls for a market that never traded)."""
    if ticker is None:
        return {"market": market.symbol, "last": None, "change": None, "high": None,
                "low": None, "volume": market.qty_text(0), "time": time}  # fmt: skip
    last, change, high, low, volume = ticker
    price = market.price_text
    return {"market": market.symbol, "last": price(last), "change": _signed(market, change),
            "high": price(high), "low": price(low), "volume": market.qty_text(volume),
            "time": time}  # fmt: skip


def _signed(market: Market, ticks: int) -> str:
    """A price difference: ``price_text`` of its size, with a minus when it fell."""
    return ("-" if ticks < 0 else "") + market.price_text(abs(ticks))


def book_view(market: Market, index: int, bids: list, asks: list) -> dict:
    """Depth as returned by ``Exchange.depth``: (ticks, lots, order count) levels, best first."""
    return {
        "market": market.symbol,
        "index": index,
        "bids": _levels(market, bids),
        "asks": _levels(market, asks),
    }


def order_view(market: Market, order: OrderView, index: int) -> dict:
    """An order as the ``order`` op shows it; ``index`` is the log position it reflects."""
    return {
        "order_id": order.order_id,
        "client_id": order.client_id,
        "owner": order.owner,
        "market": order.market,
        "side": order.side,
        "type": order.type,
        "price": None if order.price is None else market.price_text(order.price),
        "qty": market.qty_text(order.qty),
        "filled_qty": market.qty_text(order.filled_qty),
        "remaining_qty": market.qty_text(order.remaining_qty),
        "status": order.status,
        "tif": order.tif,
        "expire_at": order.expire_at,
        "trigger": None if order.trigger is None else market.price_text(order.trigger),
        "post_only": order.post_only,
        "time": order.time,
        "index": index,
    }


def submit_result(exchange: Exchange, events: list[Event]) -> dict:
    """A submit's outcome, from its ``Done`` (rule rejections included: they are results)."""
    done = _first(events, Done)
    market = _market(exchange, done.market)
    return {
        "order_id": done.order_id,
        "client_id": done.client_id,
        "status": done.status,
        "reason": done.reason,
        "filled_qty": market.qty_text(done.filled_qty),
        "remaining_qty": market.qty_text(done.remaining_qty),
        "avg_price": market.avg_price_text(done.notional, done.filled_qty),
        "trades": [trade_view(market, trade) for trade in done.trades],
        "time": done.time,
        "index": done.index,
    }


def cancel_result(exchange: Exchange, events: list[Event], index: int) -> dict:
    raise_rejection(events)
    cancelled = _first(events, Cancelled)
    market = _market(exchange, cancelled.market)
    return {
        "order_id": cancelled.order_id,
        "status": "cancelled",
        "remaining_qty": market.qty_text(cancelled.remaining_qty),
        "index": index,
    }


def cancel_all_result(events: list[Event], index: int) -> dict:
    raise_rejection(events)
    cancelled = [event.order_id for event in events if type(event) is Cancelled]
    return {"cancelled": cancelled, "index": index}


def amend_result(exchange: Exchange, before: OrderView, events: list[Event], index: int) -> dict:
    """The amended order as ``order`` shows it, at the amend's own log index.

    ``before`` supplies what an amend never changes (side, type, owner...); price, quantity
    and progress come from the ``Amended`` event and, when the order was re-priced and
    matched again, from its ``Done``.
    """
    raise_rejection(events)
    amended = _first(events, Amended)
    filled = amended.qty - amended.remaining_qty
    status = UNTRIGGERED if amended.trigger is not None else PARTIALLY_FILLED if filled else RESTING
    remaining = amended.remaining_qty
    for event in events:
        if type(event) is Done:
            status, filled, remaining = event.status, event.filled_qty, event.remaining_qty
    after = before._replace(
        price=amended.price,
        trigger=amended.trigger,
        qty=amended.qty,
        filled_qty=filled,
        remaining_qty=remaining,
        status=status,
    )
    return order_view(_market(exchange, after.market), after, index)


def balances_view(exchange: Exchange, owner: str) -> list[dict]:
    """``owner``'s balances, every asset in order, as decimal strings ([] with no account)."""
    views = []
    for name, available, held in exchange.balances(owner):
        asset = exchange.asset(name)
        assert asset is not None
        views.append({"asset": name, "available": asset.text(available), "held": asset.text(held)})
    return views


def transfer_result(events: list[Event]) -> None:
    """A refused transfer as ERR_INVALID naming the field (the engine's reason starts with
    it; a shortfall is about the amount)."""
    for event in events:
        if type(event) is Rejected:
            reason = event.reason
            if event.code == REJECT_INSUFFICIENT_FUNDS:
                reason = f"amount: {reason}"
            raise RpcError(ERR_INVALID, reason)


def raise_rejection(events: list[Event]) -> None:
    """Turn an engine ``Rejected`` into the RPC error it stands for."""
    for event in events:
        if type(event) is Rejected:
            raise RpcError(_REJECTION_ERRORS.get(event.code, ERR_INVALID), event.reason)


def _levels(market: Market, levels: list) -> list[list]:
    return [[market.price_text(p), market.qty_text(q), count] for p, q, count in levels]


def _market(exchange: Exchange, symbol: str) -> Market:
    market = exchange.market(symbol)
    if market is None:  # events only name markets that exist; markets are never removed
        raise RuntimeError(f"no market {symbol}")
    return market


def _first(events: list[Event], kind: type[_E]) -> _E:
    for event in events:
        if isinstance(event, kind):
            return event
    raise RuntimeError(f"the command produced no {kind.__name__}: {events!r}")
