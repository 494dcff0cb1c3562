"""Commands: the only way to change an exchange, and the form the consensus log carries.

Each command is a small record (``records.Record``). Its JSON-safe form
(:func:`encode_command`) is a plain dict of strings, integers, booleans and nulls;
:func:`parse_command` reads that form back strictly: unknown ops or fields, wrong types,
out-of-range numbers and bad enum values raise :class:`InvalidInput` naming the field.
Prices are integer ticks and quantities integer lots here; decimal strings are converted
before a command is built (``units``).
"""

from collections.abc import Callable
from typing import Final

from .accounts import MAX_FEE_BPS, parse_grant
from .errors import InvalidInput
from .records import Record, mypyc_attr
from .units import MAX_UNITS, parse_decimal

SIDES: Final = ("buy", "sell")
ORDER_TYPES: Final = ("limit", "market", "stop", "stop_limit")
#: Orders that wait for a trigger price: a stop becomes a market order, a stop_limit a limit.
STOP_TYPES: Final = ("stop", "stop_limit")
TIFS: Final = ("gtc", "ioc", "fok", "gtd")
#: Largest consensus time (ms since the epoch) a command may name: JSON-safe everywhere.
MAX_TIME: Final = 2**53 - 1
STP_MODES: Final = ("none", "cancel_taker", "cancel_maker", "cancel_both")

MAX_NAME: Final = 64  # owner names, client ids, symbols and asset names


@mypyc_attr(acyclic=True)
class CreateMarket(Record):
    _fields = ("symbol", "base", "quote", "tick", "lot")
    __slots__ = _fields

    def __init__(self, symbol: str, base: str, quote: str, tick: str, lot: str) -> None:
        self.symbol = symbol
        self.base = base
        self.quote = quote
        self.tick = tick  # decimal strings: the market's price and quantity steps
        self.lot = lot


#: The markets a new exchange starts with (spec/cli.md: every new cluster's first entries).
FOUNDING_MARKETS: Final = (
    CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"),
    CreateMarket("ETH/USD", "ETH", "USD", "0.01", "0.01"),
)


@mypyc_attr(acyclic=True)
class Submit(Record):
    _fields = (
        "owner",
        "market",
        "side",
        "type",
        "price",
        "qty",
        "tif",
        "post_only",
        "stp",
        "client_id",
        "expire_at",
        "trigger",
    )
    __slots__ = _fields

    def __init__(
        self,
        owner: str,
        market: str,
        side: str,
        type: str,
        price: int | None,
        qty: int,
        tif: str = "gtc",
        post_only: bool = False,
        stp: str = "none",
        client_id: str | None = None,
        expire_at: int | None = None,
        trigger: int | None = None,
    ) -> None:
        self.owner = owner
        self.market = market
        self.side = side
        self.type = type
        self.price = price  # ticks: the limit price, or a market order's protection price
        self.qty = qty  # lots
        self.tif = tif
        self.post_only = post_only
        self.stp = stp
        self.client_id = client_id
        self.expire_at = expire_at  # ms since the epoch: when a gtd order expires
        self.trigger = trigger  # ticks: the last trade price that triggers a stop


@mypyc_attr(acyclic=True)
class Cancel(Record):
    _fields = ("owner", "order_id", "client_id")
    __slots__ = _fields

    def __init__(
        self, owner: str, order_id: int | None = None, client_id: str | None = None
    ) -> None:
        self.owner = owner
        self.order_id = order_id
        self.client_id = client_id


@mypyc_attr(acyclic=True)
class CancelAll(Record):
    _fields = ("owner", "market")
    __slots__ = _fields

    def __init__(self, owner: str, market: str | None = None) -> None:
        self.owner = owner
        self.market = market


@mypyc_attr(acyclic=True)
class Amend(Record):
    _fields = ("owner", "order_id", "qty", "price", "trigger")
    __slots__ = _fields

    def __init__(
        self,
        owner: str,
        order_id: int,
        qty: int | None = None,
        price: int | None = None,
        trigger: int | None = None,
    ) -> None:
        self.owner = owner
        self.order_id = order_id
        self.qty = qty  # new total quantity, lots
        self.price = price  # new limit (or a stop's protection) price, ticks
        self.trigger = trigger  # an untriggered stop's new trigger price, ticks


@mypyc_attr(acyclic=True)
class Configure(Record):
    """Turn money on (once, before any order): what every new account is granted
    (``"BTC=10,USD=1000"``, amounts in decimal) and the fee rates in basis points."""

    _fields = ("grant", "maker_fee_bps", "taker_fee_bps")
    __slots__ = _fields

    def __init__(self, grant: str, maker_fee_bps: int = 0, taker_fee_bps: int = 0) -> None:
        self.grant = grant
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps


@mypyc_attr(acyclic=True)
class OpenAccount(Record):
    """Give trader ``owner`` an account, credited with the grant."""

    _fields = ("owner",)
    __slots__ = _fields

    def __init__(self, owner: str) -> None:
        self.owner = owner


@mypyc_attr(acyclic=True)
class Transfer(Record):
    """Move ``amount`` units of ``asset`` from ``owner``'s available balance to ``to``."""

    _fields = ("owner", "to", "asset", "amount")
    __slots__ = _fields

    def __init__(self, owner: str, to: str, asset: str, amount: int) -> None:
        self.owner = owner
        self.to = to
        self.asset = asset
        self.amount = amount  # the asset's units (``engine.accounts``)


Command = CreateMarket | Submit | Cancel | CancelAll | Amend | Configure | OpenAccount | Transfer

_OPS: dict[str, type[Record]] = {
    "create_market": CreateMarket,
    "submit": Submit,
    "cancel": Cancel,
    "cancel_all": CancelAll,
    "amend": Amend,
    "configure": Configure,
    "open_account": OpenAccount,
    "transfer": Transfer,
}
_OP_OF = {cls: op for op, cls in _OPS.items()}
#: Fields left out of the JSON-safe form when null (their default): a command that does not
#: use them encodes as it did before they existed, and log entries stay as small.
_OMITTED_WHEN_NULL: Final = ("expire_at", "trigger")


def encode_command(command: Command) -> dict:
    """The JSON-safe form of a command: ``{"op": ..., field: value, ...}``."""
    encoded = {"op": _OP_OF[type(command)], **command._asdict()}
    for field in _OMITTED_WHEN_NULL:
        if field in encoded and encoded[field] is None:
            del encoded[field]
    return encoded


def parse_command(obj: object) -> Command:
    """Strictly parse the JSON-safe form of a command."""
    if not isinstance(obj, dict):
        raise InvalidInput("command", "expected an object")
    op = obj.get("op")
    if not isinstance(op, str) or op not in _OPS:
        raise InvalidInput("op", f"unknown operation {op!r}")
    unknown = sorted(str(key) for key in set(obj) - set(_FIELDS[op]) - {"op"})
    if unknown:
        raise InvalidInput(unknown[0], "unknown field")
    return _PARSERS[op](obj)


def _optional_name(obj: dict, field: str) -> str | None:
    return None if obj.get(field) is None else _name(obj, field)


def _name(obj: dict, field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "expected a non-empty string")
    if len(value) > MAX_NAME or not value.isprintable():
        raise InvalidInput(field, f"must be at most {MAX_NAME} printable characters")
    return value


def _optional_units(obj: dict, field: str) -> int | None:
    return None if obj.get(field) is None else _units(obj, field)


def _units(obj: dict, field: str) -> int:
    value = obj.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "expected an integer count of ticks or lots")
    if not 0 < value <= MAX_UNITS:
        raise InvalidInput(field, f"must be between 1 and {MAX_UNITS}")
    return value


def _optional_time(obj: dict, field: str) -> int | None:
    """A consensus time in ms since the epoch, or None when missing or null."""
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "expected an integer time in ms since the epoch")
    if not 0 < value <= MAX_TIME:
        raise InvalidInput(field, f"must be between 1 and {MAX_TIME}")
    return value


def _choice(obj: dict, field: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices``; missing or null means ``default`` ("" means required)."""
    value = obj.get(field)
    if value is None and default:
        return default
    if value not in choices:
        raise InvalidInput(field, f"expected one of {', '.join(choices)}")
    return value


def _flag(obj: dict, field: str) -> bool:
    value = obj.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(field, "expected true or false")
    return value


def _parse_create_market(obj: dict) -> CreateMarket:
    symbol = _name(obj, "symbol")
    base, quote = _name(obj, "base"), _name(obj, "quote")
    if symbol != f"{base}/{quote}":
        raise InvalidInput("symbol", "must be BASE/QUOTE")
    for field in ("tick", "lot"):
        text = obj.get(field)
        if not isinstance(text, str) or "e" in text.lower():
            raise InvalidInput(field, 'expected a plain decimal string such as "0.01"')
        step = parse_decimal(text, field)
        if int(step.as_tuple().exponent) < -12 or step > 10**6:
            raise InvalidInput(field, "must be between 1e-12 and 1000000")
    return CreateMarket(symbol, base, quote, obj["tick"], obj["lot"])


def _parse_submit(obj: dict) -> Submit:
    kind = _choice(obj, "type", ORDER_TYPES, "limit")
    becomes_market = kind in ("market", "stop")  # the price is optional: a protection price
    price = _optional_units(obj, "price") if becomes_market else _units(obj, "price")
    tif = _choice(obj, "tif", TIFS, "ioc" if becomes_market else "gtc")
    rests = tif in ("gtc", "gtd")
    post_only = _flag(obj, "post_only")
    if becomes_market and rests:
        raise InvalidInput("tif", f"a {kind} order cannot rest: use ioc or fok")
    if post_only and (becomes_market or not rests):
        raise InvalidInput(
            "post_only", "only a good-till-cancelled or good-till-date limit order can be post-only"
        )
    expire_at = _optional_time(obj, "expire_at")
    if (expire_at is None) == (tif == "gtd"):
        reason = "required for tif gtd" if expire_at is None else "only a gtd order has one"
        raise InvalidInput("expire_at", reason)
    trigger = _optional_units(obj, "trigger")
    if (trigger is None) == (kind in STOP_TYPES):
        reason = f"required for a {kind} order" if trigger is None else "only a stop order has one"
        raise InvalidInput("trigger", reason)
    return Submit(
        owner=_name(obj, "owner"),
        market=_name(obj, "market"),
        side=_choice(obj, "side", SIDES, ""),
        type=kind,
        price=price,
        qty=_units(obj, "qty"),
        tif=tif,
        post_only=post_only,
        stp=_choice(obj, "stp", STP_MODES, "none"),
        client_id=_optional_name(obj, "client_id"),
        expire_at=expire_at,
        trigger=trigger,
    )


def _order_id(obj: dict) -> int:
    value = obj.get("order_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidInput("order_id", "expected a positive integer")
    return value


def _parse_cancel(obj: dict) -> Cancel:
    order_id = None if obj.get("order_id") is None else _order_id(obj)
    client_id = _optional_name(obj, "client_id")
    if (order_id is None) == (client_id is None):
        raise InvalidInput("order_id", "give exactly one of order_id and client_id")
    return Cancel(_name(obj, "owner"), order_id, client_id)


def _parse_cancel_all(obj: dict) -> CancelAll:
    return CancelAll(_name(obj, "owner"), _optional_name(obj, "market"))


def _parse_amend(obj: dict) -> Amend:
    amend = Amend(
        _name(obj, "owner"),
        _order_id(obj),
        _optional_units(obj, "qty"),
        _optional_units(obj, "price"),
        _optional_units(obj, "trigger"),
    )
    if amend.qty is None and amend.price is None and amend.trigger is None:
        raise InvalidInput("qty", "give qty, price or both, or a stop's trigger")
    return amend


def _parse_configure(obj: dict) -> Configure:
    grant = obj.get("grant", "")
    if not isinstance(grant, str):
        raise InvalidInput("grant", "expected ASSET=AMOUNT,... such as BTC=10,USD=1000")
    parse_grant(grant)
    fees = [obj.get(field, 0) for field in ("maker_fee_bps", "taker_fee_bps")]
    for field, value in zip(("maker_fee_bps", "taker_fee_bps"), fees, strict=True):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEE_BPS:
            raise InvalidInput(field, f"expected basis points from 0 to {MAX_FEE_BPS}")
    return Configure(grant, fees[0], fees[1])


def _parse_transfer(obj: dict) -> Transfer:
    return Transfer(_name(obj, "owner"), _name(obj, "to"), _name(obj, "asset"),
                    _units(obj, "amount"))  # fmt: skip


_PARSERS: dict[str, Callable[[dict], Command]] = {
    "create_market": _parse_create_market,
    "submit": _parse_submit,
    "cancel": _parse_cancel,
    "cancel_all": _parse_cancel_all,
    "amend": _parse_amend,
    "configure": _parse_configure,
    "open_account": lambda obj: OpenAccount(_name(obj, "owner")),
    "transfer": _parse_transfer,
}
_FIELDS = {op: cls._fields for op, cls in _OPS.items()}
