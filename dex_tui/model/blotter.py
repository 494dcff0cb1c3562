"""The open-orders panel's content: this trader's orders, including those not yet committed.

An order is acknowledged only once committed (the consensus model), so a ticket sent but not
yet back is shown as *pending*; once its submit returns, its outcome replaces it: an order
that rests appears among the open orders (read from the engine, the single source of
truth), and one that filled, was cancelled or rejected, or failed to commit stays listed a
while as a finished row so the user sees what happened.

A stop waiting for its trigger is open too (status ``untriggered``, its trigger price in a
column of its own), so it can be cancelled and amended like a resting order; a
good-till-date order says until when it rests.
"""

from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal

from engine import Done, Exchange, Market, OrderView, Submit

from . import numbers, times

FINISHED_ROWS = 12
OPEN_STATUSES = ("resting", "partially_filled", "untriggered")


@dataclass(frozen=True, slots=True)
class OrderRow:
    key: str  # stable row key: "o<order id>", or "c<client id>" before an id exists
    order_id: int | None
    market: str
    side: str
    price: str  # fixed decimals, or "market"
    qty: str
    filled: str
    status: str  # pending / resting / partially_filled / untriggered / filled / cancelled /
    # rejected / failed
    note: str = ""
    trigger: str = ""  # a stop's trigger price ("" for other orders)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


class Blotter:
    def __init__(self) -> None:
        self.pending: dict[str, tuple[Submit, Market]] = {}  # client id -> what was sent
        self.finished: deque[OrderRow] = deque(maxlen=FINISHED_ROWS)
        self.version = 0  # bumped on every change the engine does not show

    def sent(self, command: Submit, market: Market) -> None:
        assert command.client_id is not None
        self.pending[command.client_id] = (command, market)
        self.version += 1

    def resolved(self, client_id: str, done: Done | None, error: str = "") -> None:
        """A submit came back: its ``Done``, or ``error`` if it could not be committed."""
        entry = self.pending.pop(client_id, None)
        if entry is None:
            return
        command, market = entry
        self.version += 1
        if done is None:
            self.finished.appendleft(_row(command, market, "failed", None, error))
        elif done.status not in OPEN_STATUSES:  # else: open, in the engine
            row = _row(command, market, done.status, done.order_id, done.reason or "")
            filled = numbers.qty(market, done.filled_qty)
            self.finished.appendleft(replace(row, filled=filled))

    def rows(self, exchange: Exchange, owner: str, market: str) -> list[OrderRow]:
        """The trader's orders in ``market``: pending, then open, then recently finished."""
        pending = [_row(cmd, m, "pending", None) for cmd, m in self.pending.values()]
        live = [_open_row(exchange.markets[o.market], o) for o in exchange.open_orders(owner)]
        rows = pending + live + list(self.finished)
        return [row for row in rows if row.market == market]


def _row(
    command: Submit, market: Market, status: str, order_id: int | None, note: str = ""
) -> OrderRow:
    price = "market" if command.price is None else numbers.price(market, command.price)
    key = f"o{order_id}" if order_id is not None else f"c{command.client_id}"
    return OrderRow(
        key,
        order_id,
        market.symbol,
        command.side,
        price,
        numbers.qty(market, command.qty),
        numbers.qty(market, 0),
        status,
        note,
        _trigger(market, command.trigger),
    )


def _open_row(market: Market, order: OrderView) -> OrderRow:
    price = "market" if order.price is None else numbers.price(market, order.price)
    return OrderRow(
        f"o{order.order_id}",
        order.order_id,
        order.market,
        order.side,
        price,
        numbers.qty(market, order.qty),
        numbers.qty(market, order.filled_qty),
        order.status,
        "" if order.expire_at is None else f"till {times.hms(order.expire_at)}",
        _trigger(market, order.trigger),
    )


def describe(row: OrderRow) -> str:
    """One line saying all of a row, for the line under the table (whose columns may be
    cut off on a narrow screen): ``#458 sell 0.500 @ 99.5 stop 99.6 · untriggered · till
    12:05:00``."""
    ident = "pending" if row.order_id is None else f"#{row.order_id}"
    price = "market" if row.price == "market" else f"@ {row.price}"
    words = [ident, row.side, row.qty, price]
    words += [f"stop {row.trigger}"] if row.trigger else []
    words += [f"filled {row.filled}"] if Decimal(row.filled) else []
    text = " ".join(words) + f" · {row.status.replace('_', ' ')}"
    return text + (f" · {row.note}" if row.note else "")


def _trigger(market: Market, trigger: int | None) -> str:
    return "" if trigger is None else numbers.price(market, trigger)
