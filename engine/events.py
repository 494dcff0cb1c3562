"""Events: what applying one command did, in the order it happened.

:meth:`engine.Exchange.apply` returns a list of these. The UI and the RPC layer read them;
nothing in the engine reads them back, except that a submit's :class:`Done` is kept on its
order so a repeated submit (same owner and client id) can return it unchanged. Prices are
ticks and quantities lots, as everywhere in the engine.

Every event carries the log ``index`` and the consensus ``time`` (ms since the epoch,
:attr:`engine.Exchange.time`) of the entry that produced it, the same on every peer.
``time`` follows ``index`` and defaults to 0 (an exchange never given a time).
"""

from typing import Final

from .records import Record, mypyc_attr


@mypyc_attr(acyclic=True)
class MarketCreated(Record):
    _fields = ("symbol", "base", "quote", "tick", "lot", "index", "time")
    __slots__ = _fields

    def __init__(self, symbol: str, base: str, quote: str, tick: str, lot: str, index: int,
                 time: int = 0) -> None:  # fmt: skip
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.tick = tick
        self.lot = lot
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Accepted(Record):
    """A submit passed the rules and is about to match (or rest)."""

    _fields = ("order_id", "client_id", "owner", "market", "side", "type", "price", "qty", "index",
               "time")  # fmt: skip
    __slots__ = _fields

    def __init__(
        self,
        order_id: int,
        client_id: str | None,
        owner: str,
        market: str,
        side: str,
        type: str,
        price: int | None,
        qty: int,
        index: int,
        time: int = 0,
    ) -> None:
        self.order_id = order_id
        self.client_id = client_id
        self.owner = owner
        self.market = market
        self.side = side
        self.type = type
        self.price = price
        self.qty = qty
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Rejected(Record):
    """A command the rules refused; it changed nothing but (for a submit) its own record.

    ``code`` is one of the ``REJECT_*`` constants; ``reason`` is a sentence for people that
    starts with the field it is about.
    """

    _fields = ("op", "order_id", "client_id", "owner", "code", "reason", "index", "time")
    __slots__ = _fields

    def __init__(
        self,
        op: str,
        order_id: int | None,
        client_id: str | None,
        owner: str,
        code: str,
        reason: str,
        index: int,
        time: int = 0,
    ) -> None:
        self.op = op
        self.order_id = order_id
        self.client_id = client_id
        self.owner = owner
        self.code = code
        self.reason = reason
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Trade(Record):
    """One fill. ``aggressor`` is the taker's side; ``maker_remaining`` 0 means the maker
    left the book filled."""

    _fields = (
        "trade_id",
        "market",
        "price",
        "qty",
        "aggressor",
        "maker_order",
        "taker_order",
        "maker_owner",
        "taker_owner",
        "maker_remaining",
        "index",
        "time",
    )
    __slots__ = _fields

    def __init__(
        self,
        trade_id: int,
        market: str,
        price: int,
        qty: int,
        aggressor: str,
        maker_order: int,
        taker_order: int,
        maker_owner: str,
        taker_owner: str,
        maker_remaining: int,
        index: int,
        time: int = 0,
    ) -> None:
        self.trade_id = trade_id
        self.market = market
        self.price = price
        self.qty = qty
        self.aggressor = aggressor
        self.maker_order = maker_order
        self.taker_order = taker_order
        self.maker_owner = maker_owner
        self.taker_owner = taker_owner
        self.maker_remaining = maker_remaining
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Cancelled(Record):
    """An order (or what was left of it) left the book, or was dropped without resting."""

    _fields = ("order_id", "owner", "market", "remaining_qty", "reason", "index", "time")
    __slots__ = _fields

    def __init__(
        self,
        order_id: int,
        owner: str,
        market: str,
        remaining_qty: int,
        reason: str,
        index: int,
        time: int = 0,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.market = market
        self.remaining_qty = remaining_qty
        self.reason = reason  # one of the CANCEL_* constants
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Amended(Record):
    """An open order's new quantity and price (and, for a stop still waiting, trigger).
    ``price`` is None for a stop without a protection price; ``trigger`` is the order's
    (None for an order that was never a stop)."""

    _fields = (
        "order_id",
        "owner",
        "market",
        "price",
        "qty",
        "remaining_qty",
        "kept_priority",
        "trigger",
        "index",
        "time",
    )
    __slots__ = _fields

    def __init__(
        self,
        order_id: int,
        owner: str,
        market: str,
        price: int | None,
        qty: int,
        remaining_qty: int,
        kept_priority: bool,
        trigger: int | None,
        index: int,
        time: int = 0,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.market = market
        self.price = price
        self.qty = qty
        self.remaining_qty = remaining_qty
        self.kept_priority = kept_priority
        self.trigger = trigger
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Done(Record):
    """Where a submitted (or re-priced) order ended up once the command finished.

    ``status`` is resting, partially_filled, filled, cancelled, rejected or (a stop
    waiting for its trigger) untriggered; ``notional``
    is the sum of price * qty over its fills (ticks * lots) so clients can derive the
    average price; ``trades`` are the fills this command produced for it; ``duplicate``
    marks the copy a repeated submit gets back.
    """

    _fields = (
        "order_id",
        "client_id",
        "owner",
        "market",
        "status",
        "reason",
        "filled_qty",
        "remaining_qty",
        "notional",
        "trades",
        "index",
        "time",
        "duplicate",
    )
    __slots__ = _fields

    def __init__(
        self,
        order_id: int,
        client_id: str | None,
        owner: str,
        market: str,
        status: str,
        reason: str | None,
        filled_qty: int,
        remaining_qty: int,
        notional: int,
        trades: tuple[Trade, ...],
        index: int,
        time: int = 0,
        duplicate: bool = False,
    ) -> None:
        self.order_id = order_id
        self.client_id = client_id
        self.owner = owner
        self.market = market
        self.status = status
        self.reason = reason
        self.filled_qty = filled_qty
        self.remaining_qty = remaining_qty
        self.notional = notional
        self.trades = trades
        self.index = index
        self.time = time
        self.duplicate = duplicate


@mypyc_attr(acyclic=True)
class Triggered(Record):
    """A stop's trigger was crossed: the market's last trade price ``last_price`` reached
    ``trigger`` (a buy stop's at or above, a sell stop's at or below). The order now executes
    as the market or limit order it becomes; its trades, ``Cancelled`` or ``Rejected`` and
    ``Done`` follow this event, in the events of the command whose trade moved the price."""

    _fields = ("order_id", "client_id", "owner", "market", "side", "trigger", "last_price",
               "index", "time")  # fmt: skip
    __slots__ = _fields

    def __init__(self, order_id: int, client_id: str | None, owner: str, market: str, side: str,
                 trigger: int, last_price: int, index: int, time: int = 0) -> None:  # fmt: skip
        self.order_id = order_id
        self.client_id = client_id
        self.owner = owner
        self.market = market
        self.side = side
        self.trigger = trigger
        self.last_price = last_price
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Configured(Record):
    """Money is on: ``grant`` is each new account's, in units per asset (asset, units)."""

    _fields = ("grant", "maker_fee_bps", "taker_fee_bps", "index", "time")
    __slots__ = _fields

    def __init__(
        self, grant: tuple[tuple[str, int], ...], maker_fee_bps: int, taker_fee_bps: int,
        index: int, time: int = 0,
    ) -> None:  # fmt: skip
        self.grant = grant
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class AccountOpened(Record):
    _fields = ("owner", "index", "time")
    __slots__ = _fields

    def __init__(self, owner: str, index: int, time: int = 0) -> None:
        self.owner = owner
        self.index = index
        self.time = time


@mypyc_attr(acyclic=True)
class Transferred(Record):
    _fields = ("owner", "to", "asset", "amount", "index", "time")
    __slots__ = _fields

    def __init__(self, owner: str, to: str, asset: str, amount: int, index: int,
                 time: int = 0) -> None:  # fmt: skip
        self.owner = owner
        self.to = to
        self.asset = asset
        self.amount = amount  # the asset's units
        self.index = index
        self.time = time


Event = (
    MarketCreated | Accepted | Rejected | Trade | Cancelled | Amended | Done | Triggered
    | Configured | AccountOpened | Transferred
)  # fmt: skip

REJECT_INVALID: Final = "invalid"
REJECT_NOT_FOUND: Final = "not_found"
REJECT_FORBIDDEN: Final = "forbidden"
REJECT_WOULD_CROSS: Final = "would_cross"
REJECT_UNFILLABLE: Final = "unfillable"
REJECT_INSUFFICIENT_FUNDS: Final = "insufficient_funds"

CANCEL_USER: Final = "user"
CANCEL_UNFILLED: Final = "unfilled"  # IOC or market remainder
CANCEL_SELF_TRADE: Final = "self_trade"
CANCEL_EXPIRED: Final = "expired"  # a good-till-date order's expire_at came (Exchange.advance)
