"""Canonical, versioned snapshots of an exchange, and restoring from them.

The bytes are a one-line header and compact JSON made only of lists, strings, integers,
booleans and nulls, with everything in a defined order (markets in creation order, each
book side best price first and time priority within a price, finished orders oldest
first). Equal states therefore give equal bytes, and the digest is the SHA-256 of them.
Nothing about how the state happens to be stored in memory (cancelled orders still waiting
in a level's queue, dict insertion order) leaks in.

A snapshot can arrive from another peer, so :func:`load` checks its shape and raises
:class:`InvalidInput` rather than trusting it.
"""

import json
from typing import TYPE_CHECKING

from .errors import InvalidInput
from .events import Done, Trade
from .markets import Market
from .orders import Order

if TYPE_CHECKING:
    from .exchange import Exchange

HEADER = b"dex-engine-snapshot/1\n"


def _done_row(done: Done) -> list:
    return [*done._values()[:9], [list(t) for t in done.trades], done.index]


def _order_row(order: Order) -> list:
    outcome = None if order.outcome is None else _done_row(order.outcome)
    return [
        order.order_id,
        order.client_id,
        order.owner,
        order.market,
        order.side,
        order.type,
        order.price,
        order.qty,
        order.remaining,
        order.filled,
        order.notional,
        order.status,
        order.tif,
        order.post_only,
        order.stp,
        order.index,
        outcome,
    ]


def dump(exchange: "Exchange") -> bytes:
    markets = []
    for m in exchange.markets.values():
        book = m.book
        markets.append(
            [
                m.symbol,
                m.base,
                m.quote,
                m.tick,
                m.lot,
                [_order_row(o) for o in book.bids.queue()],
                [_order_row(o) for o in book.asks.queue()],
                [list(t) for t in m.trades],
            ]
        )
    finished = [_order_row(order) for order in exchange.history]
    state = [
        exchange.history_limit,
        exchange.trade_history,
        exchange.next_order_id,
        exchange.next_trade_id,
        exchange.applied_index,
        markets,
        finished,
    ]
    return HEADER + json.dumps(state, separators=(",", ":"), ensure_ascii=True).encode()


def _trade(row: object) -> Trade:
    if not isinstance(row, list) or len(row) != len(Trade._fields):
        raise ValueError("trade row")
    return Trade(*row)


_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))
# The type of each order field in a row, in row order (the last field, the outcome, apart).
_ORDER_TYPES: tuple[type | tuple[type, ...], ...] = (
    int, _OPTIONAL_STR, str, str, str, str, _OPTIONAL_INT, int, int, int, int, str, str, bool,
    str, int,
)  # fmt: skip


def _order(row: object, exchange: "Exchange") -> Order:
    """An order from its row; ValueError unless every field has the expected type."""
    if not isinstance(row, list) or len(row) != len(_ORDER_TYPES) + 1:
        raise ValueError("order row")
    for value, expected in zip(row, _ORDER_TYPES, strict=False):
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"order field {value!r}")
    (order_id, client_id, owner, market, side, type_, price, qty, remaining, filled, notional,
     status, tif, post_only, stp, index, outcome) = row  # fmt: skip
    order = Order(order_id, client_id, owner, exchange.owner(owner), market, side, type_, price,
                  qty, tif, post_only, stp, index)  # fmt: skip
    order.remaining, order.filled, order.notional = remaining, filled, notional
    order.status = status
    if outcome is not None:
        if not isinstance(outcome, list) or len(outcome) != 11:
            raise ValueError("order outcome")
        *head, trades, done_index = outcome
        fills = tuple(_trade(t) for t in trades)
        order.outcome = Done(*head, trades=fills, index=done_index)  # type: ignore[misc]
    return order


def load(data: bytes, exchange: "Exchange") -> None:
    """Fill a fresh ``exchange`` with the state in ``data``."""
    if not isinstance(data, bytes) or not data.startswith(HEADER):
        raise InvalidInput("snapshot", "not a dex engine snapshot (version 1)")
    try:
        (
            history_limit,
            trade_history,
            next_order_id,
            next_trade_id,
            applied_index,
            markets,
            finished,
        ) = json.loads(data[len(HEADER) :])
        exchange.history_limit, exchange.trade_history = int(history_limit), int(trade_history)
        exchange.next_order_id, exchange.next_trade_id = int(next_order_id), int(next_trade_id)
        exchange.applied_index = int(applied_index)
        for symbol, base, quote, tick, lot, bids, asks, trades in markets:
            market = Market(symbol, base, quote, tick, lot, exchange.trade_history)
            exchange.markets[symbol] = market
            for side, rows in ((market.book.bids, bids), (market.book.asks, asks)):
                for row in rows:
                    order = _order(row, exchange)
                    side.rest(order)
                    exchange.orders[order.order_id] = order
                    order.account.open[order.order_id] = order
            market.trades.extend(_trade(t) for t in trades)
        for row in finished:
            order = _order(row, exchange)
            exchange.orders[order.order_id] = order
            exchange.history.append(order)
        for order_id in sorted(exchange.orders):
            order = exchange.orders[order_id]
            if order.client_id is not None:
                order.account.by_client[order.client_id] = order
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise InvalidInput("snapshot", f"malformed: {exc}") from None
