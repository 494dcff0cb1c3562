"""RPC requests: a payload parsed strictly into a typed value, before anything acts on it.

Nothing from the network reaches the engine unchecked. Every op has a fixed set of fields
(a misspelt ``"pirce"`` is refused, not ignored), every number is bounded, and amounts are
converted to ticks and lots by their market, so a price off the tick is ``ERR_INVALID``, never
rounded. JSON numbers arrive as ``int`` or, when they have a fraction or exponent, as the
``Decimal`` the framing read them into; they are converted through their decimal text.

Writes come out as engine commands owned by this peer's trader and checked by the engine's
own command parser (``engine.parse_command``), so the order rules live in one place.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import engine
from engine import Exchange, InvalidInput, Market, OrderView
from engine.candles import INTERVALS, MAX_BARS
from engine.commands import MAX_NAME

from .errors import ERR_NOT_FOUND, ERR_UNKNOWN_OP, RpcError

DEFAULT_DEPTH, MAX_DEPTH = 20, 1000  # book levels per side
DEFAULT_TRADES, MAX_TRADES = 100, 1000  # trades per reply
DEFAULT_ORDERS, MAX_ORDERS = 1000, 1000  # orders per reply
DEFAULT_SYNC_MS, MAX_SYNC_MS = 5000, 60000  # how long `sync` may wait
DEFAULT_CANDLES = 100  # bars per reply (at most engine.candles.MAX_BARS)
MAX_ID = 2**63 - 1  # order ids, trade ids and log indexes
_MAX_SHOWN = 40  # characters of a bad value quoted back in an error

WRITES = frozenset({"submit", "cancel", "cancel_all", "amend", "transfer"})  # through consensus

_C = TypeVar("_C", engine.Submit, engine.Cancel, engine.CancelAll, engine.Amend, engine.Transfer)


@dataclass(frozen=True, slots=True)
class StatusRequest:
    pass


@dataclass(frozen=True, slots=True)
class MarketsRequest:
    pass


@dataclass(frozen=True, slots=True)
class DigestRequest:
    pass


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    command: engine.Submit
    generated_client_id: bool  # the edge made the client id up: the caller must be told it


@dataclass(frozen=True, slots=True)
class CancelRequest:
    command: engine.Cancel


@dataclass(frozen=True, slots=True)
class CancelAllRequest:
    command: engine.CancelAll


@dataclass(frozen=True, slots=True)
class AmendRequest:
    command: engine.Amend
    before: OrderView  # the order as parsing found it: its market, side, type... never change


@dataclass(frozen=True, slots=True)
class TransferRequest:
    command: engine.Transfer


@dataclass(frozen=True, slots=True)
class WhoamiRequest:
    pass


@dataclass(frozen=True, slots=True)
class BalancesRequest:
    pass


@dataclass(frozen=True, slots=True)
class BookRequest:
    market: str
    depth: int


@dataclass(frozen=True, slots=True)
class TradesRequest:
    market: str
    since: int  # trade id: only later trades
    limit: int


@dataclass(frozen=True, slots=True)
class OrdersRequest:
    market: str | None
    open_only: bool
    since: int  # order id: only later orders
    limit: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    order_id: int | None
    client_id: str | None


@dataclass(frozen=True, slots=True)
class CandlesRequest:
    market: str
    interval: str  # one of engine.candles.INTERVALS
    limit: int


@dataclass(frozen=True, slots=True)
class TickerRequest:
    market: str


@dataclass(frozen=True, slots=True)
class SyncRequest:
    index: int
    timeout: float  # seconds


Request = (
    StatusRequest
    | MarketsRequest
    | DigestRequest
    | SubmitRequest
    | CancelRequest
    | CancelAllRequest
    | AmendRequest
    | TransferRequest
    | WhoamiRequest
    | BalancesRequest
    | BookRequest
    | TradesRequest
    | OrdersRequest
    | OrderRequest
    | CandlesRequest
    | TickerRequest
    | SyncRequest
)


def parse_request(payload: object, exchange: Exchange, owner: str) -> Request:
    """Parse ``payload`` for trader ``owner`` against the markets and orders of ``exchange``.

    Raises RpcError: ``ERR_UNKNOWN_OP``, ``ERR_INVALID`` naming the field and the reason, or
    ``ERR_NOT_FOUND`` when an amend names an order this peer has never seen (its market, and
    so its tick and lot, are unknown).
    """
    if not isinstance(payload, dict):
        raise RpcError.invalid("payload", "expected an object with an op")
    op = payload.get("op")
    if not isinstance(op, str):
        raise RpcError.invalid("op", "expected the name of an operation")
    if op not in _OPS:
        expected = ", ".join(_OPS)
        raise RpcError(ERR_UNKNOWN_OP, f"op: unknown operation {_shown(op)}; one of {expected}")
    fields, parse = _OPS[op]
    unknown = sorted(set(payload) - fields - {"op"})
    if unknown:
        raise RpcError.invalid(_cut(unknown[0]), f"unknown field for {op}")
    return parse(payload, exchange, owner)


# ---------------------------------------------------------------------- writes


def _submit(p: dict, exchange: Exchange, owner: str) -> SubmitRequest:
    market = _market(p, exchange)
    kind = p.get("type")
    price = _amount(p, "price", market.price_units)
    if price is None and kind in (None, "limit", "stop_limit"):
        raise RpcError.invalid("price", f"required for a {kind or 'limit'} order")
    qty = _amount(p, "qty", market.qty_units)
    if qty is None:
        raise RpcError.invalid("qty", "required")
    client_id = _client_id(p)
    generated = client_id is None
    form = {
        "op": "submit",
        "owner": owner,
        "market": market.symbol,
        "side": p.get("side"),
        "type": kind,
        "price": price,
        "qty": qty,
        "tif": p.get("tif"),
        "expire_at": p.get("expire_at"),  # ms of consensus time (the engine checks it)
        "trigger": _amount(p, "trigger", market.price_units),
        "post_only": p.get("post_only"),
        "stp": p.get("stp"),
        "client_id": uuid.uuid4().hex if generated else client_id,
    }
    return SubmitRequest(_command(form, engine.Submit), generated)


def _cancel(p: dict, exchange: Exchange, owner: str) -> CancelRequest:
    form = {
        "op": "cancel",
        "owner": owner,
        "order_id": p.get("order_id"),
        "client_id": p.get("client_id"),
    }
    return CancelRequest(_command(form, engine.Cancel))


def _cancel_all(p: dict, exchange: Exchange, owner: str) -> CancelAllRequest:
    market = _optional_market(p, exchange)
    symbol = None if market is None else market.symbol
    form = {"op": "cancel_all", "owner": owner, "market": symbol}
    return CancelAllRequest(_command(form, engine.CancelAll))


def _amend(p: dict, exchange: Exchange, owner: str) -> AmendRequest:
    order_id = _integer(p, "order_id", None, 1, MAX_ID)
    before = exchange.order(order_id)
    if before is None:
        raise RpcError(ERR_NOT_FOUND, f"order_id: no order {order_id}")
    market = exchange.market(before.market)
    assert market is not None  # markets are never removed
    qty = _amount(p, "qty", market.qty_units)
    price = _amount(p, "price", market.price_units)
    trigger = _amount(p, "trigger", market.price_units)
    form = {"op": "amend", "owner": owner, "order_id": order_id, "qty": qty, "price": price,
            "trigger": trigger}  # fmt: skip
    return AmendRequest(_command(form, engine.Amend), before)


def _transfer(p: dict, exchange: Exchange, owner: str) -> TransferRequest:
    name = p.get("asset")
    asset = exchange.asset(name) if isinstance(name, str) else None
    if asset is None:
        raise RpcError.invalid("asset", f"unknown asset {_shown(str(name))}")
    amount = _amount(p, "amount", asset.units)
    if amount is None:
        raise RpcError.invalid("amount", "required")
    form = {"op": "transfer", "owner": owner, "to": p.get("to"), "asset": asset.name,
            "amount": amount}  # fmt: skip
    return TransferRequest(_command(form, engine.Transfer))


# ---------------------------------------------------------------------- reads


def _book(p: dict, exchange: Exchange, owner: str) -> BookRequest:
    market = _market(p, exchange)
    return BookRequest(market.symbol, _integer(p, "depth", DEFAULT_DEPTH, 1, MAX_DEPTH))


def _trades(p: dict, exchange: Exchange, owner: str) -> TradesRequest:
    market = _market(p, exchange)
    return TradesRequest(
        market.symbol,
        _integer(p, "since", 0, 0, MAX_ID),
        _integer(p, "limit", DEFAULT_TRADES, 1, MAX_TRADES),
    )


def _orders(p: dict, exchange: Exchange, owner: str) -> OrdersRequest:
    market = _optional_market(p, exchange)
    return OrdersRequest(
        None if market is None else market.symbol,
        _flag(p, "open", True),
        _integer(p, "since", 0, 0, MAX_ID),
        _integer(p, "limit", DEFAULT_ORDERS, 1, MAX_ORDERS),
    )


def _order(p: dict, exchange: Exchange, owner: str) -> OrderRequest:
    if (p.get("order_id") is None) == (p.get("client_id") is None):
        raise RpcError.invalid("order_id", "give exactly one of order_id and client_id")
    if p.get("order_id") is not None:
        return OrderRequest(_integer(p, "order_id", None, 1, MAX_ID), None)
    return OrderRequest(None, _client_id(p))


def _candles(p: dict, exchange: Exchange, owner: str) -> CandlesRequest:
    market = _market(p, exchange)
    interval = p.get("interval", "1m")
    if interval not in INTERVALS:
        raise RpcError.invalid("interval", f"expected one of {', '.join(INTERVALS)}")
    return CandlesRequest(
        market.symbol, interval, _integer(p, "limit", DEFAULT_CANDLES, 1, MAX_BARS)
    )


def _sync(p: dict, exchange: Exchange, owner: str) -> SyncRequest:
    index = _integer(p, "index", None, 0, MAX_ID)
    timeout_ms = _integer(p, "timeout_ms", DEFAULT_SYNC_MS, 0, MAX_SYNC_MS)
    return SyncRequest(index, timeout_ms / 1000)


_Parser = Callable[[dict, Exchange, str], Request]
_OPS: dict[str, tuple[frozenset[str], _Parser]] = {
    "status": (frozenset(), lambda *_: StatusRequest()),
    "markets": (frozenset(), lambda *_: MarketsRequest()),
    "submit": (
        frozenset(
            (
                "market",
                "side",
                "type",
                "price",
                "qty",
                "tif",
                "expire_at",
                "trigger",
                "post_only",
                "stp",
                "client_id",
            )
        ),
        _submit,
    ),
    "cancel": (frozenset(("order_id", "client_id")), _cancel),
    "cancel_all": (frozenset(("market",)), _cancel_all),
    "amend": (frozenset(("order_id", "qty", "price", "trigger")), _amend),
    "transfer": (frozenset(("to", "asset", "amount")), _transfer),
    "whoami": (frozenset(), lambda *_: WhoamiRequest()),
    "balances": (frozenset(), lambda *_: BalancesRequest()),
    "book": (frozenset(("market", "depth")), _book),
    "trades": (frozenset(("market", "since", "limit")), _trades),
    "orders": (frozenset(("market", "open", "since", "limit")), _orders),
    "order": (frozenset(("order_id", "client_id")), _order),
    "candles": (frozenset(("market", "interval", "limit")), _candles),
    "ticker": (
        frozenset(("market",)),
        lambda p, exchange, _: TickerRequest(_market(p, exchange).symbol),
    ),
    "digest": (frozenset(), lambda *_: DigestRequest()),
    "sync": (frozenset(("index", "timeout_ms")), _sync),
}


# ---------------------------------------------------------------------- fields


def _market(p: dict, exchange: Exchange) -> Market:
    market = _optional_market(p, exchange)
    if market is None:
        raise RpcError.invalid("market", "required")
    return market


def _optional_market(p: dict, exchange: Exchange) -> Market | None:
    value = p.get("market")
    if value is None:
        return None
    if not isinstance(value, str):
        raise RpcError.invalid("market", "expected a market symbol such as 'BTC/USD'")
    market = exchange.market(value)
    if market is None:
        raise RpcError.invalid("market", f"unknown market {_shown(value)}")
    return market


def _amount(p: dict, field: str, convert: Callable[[object, str], int]) -> int | None:
    """A price or quantity in ticks or lots, from a decimal string or a JSON number."""
    value = p.get(field)
    if value is None:
        return None
    if isinstance(value, Decimal):  # a JSON number with a fraction: its exact decimal text
        value = str(value)
    try:
        return convert(value, field)
    except InvalidInput as error:
        raise RpcError.from_input(error) from None


def _integer(p: dict, field: str, default: int | None, low: int, high: int) -> int:
    value = p.get(field)
    if value is None:
        if default is None:
            raise RpcError.invalid(field, "required")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RpcError.invalid(field, f"expected an integer from {low} to {high}")
    return value


def _flag(p: dict, field: str, default: bool) -> bool:
    value = p.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RpcError.invalid(field, "expected true or false")
    return value


def _client_id(p: dict) -> str | None:
    value = p.get("client_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_NAME or not value.isprintable():
        raise RpcError.invalid("client_id", f"expected 1 to {MAX_NAME} printable characters")
    return value


def _command(form: dict, kind: type[_C]) -> _C:
    """The engine's reading of a command's JSON-safe form (one set of rules, not two)."""
    try:
        command = engine.parse_command(form)
    except InvalidInput as error:
        raise RpcError.from_input(error) from None
    assert isinstance(command, kind)
    return command


def _shown(text: str) -> str:
    """``text`` quoted for an error message, cut short."""
    return _cut(repr(text))


def _cut(text: str) -> str:
    """At most a few words of outside text in a message: the body may be a megabyte."""
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
