"""What a feed client may send: one JSON object per text frame, parsed strictly.

A message either parses into a :class:`Request` or raises :class:`FeedInputError` naming the
field and the reason; the hub turns that into an ``{"event": "error", ...}`` message and the
connection goes on. Nothing here touches the hub's state, so a bad message changes nothing.

``{"op": "subscribe" | "unsubscribe", "channel": ..., "market": ..., ...}`` with, per channel:

========  ===================================================================
book      ``market``; ``depth`` 25 to 100 (default 25); ``since`` (an index)
trades    ``market``; ``since`` (an index: replay the trades after it first)
orders    ``market`` optional (all markets without it)
candles   ``market``; ``interval`` 1m / 5m / 1h; ``limit`` bars in the snapshot
========  ===================================================================

Every request may carry ``id`` (a string of up to 64 characters, or an integer), echoed in
its reply so a client can tell which request an error is about. ``unsubscribe`` takes only
what names a subscription: ``channel``, ``market``, ``interval`` (and ``id``).
"""

import json
from dataclasses import dataclass
from typing import Final

from engine import Exchange
from engine.candles import INTERVALS, MAX_BARS

from .checksum import CHECKSUM_LEVELS

CHANNELS: Final = ("book", "trades", "orders", "candles")
DEFAULT_DEPTH, MAX_DEPTH = CHECKSUM_LEVELS, 100  # book levels per side (the checksum needs 25)
DEFAULT_CANDLES = 100  # bars in a candles snapshot
MAX_INDEX = 2**63 - 1
MAX_ID = 64  # characters of a request id
_MAX_SHOWN = 40  # characters of a bad value quoted back

_COMMON = frozenset(("op", "channel", "id"))
_FIELDS: Final = {
    "book": frozenset(("market", "depth", "since")),
    "trades": frozenset(("market", "since")),
    "orders": frozenset(("market",)),
    "candles": frozenset(("market", "interval", "limit")),
}
_KEY_FIELDS: Final = {
    "book": frozenset(("market",)),
    "trades": frozenset(("market",)),
    "orders": frozenset(("market",)),
    "candles": frozenset(("market", "interval")),
}

#: What names a subscription on a connection: (channel, market or None, interval or None).
Key = tuple[str, str | None, str | None]


class FeedInputError(ValueError):
    """A message the feed refuses: ``str()`` is ``"field: reason"``. ``context`` is what
    could be read of the request (its id, channel, market) for the error event; ``extra``
    more fields for it (a trades gap names the oldest ``since`` that can be served)."""

    def __init__(self, field: str, reason: str, **extra: object) -> None:
        super().__init__(f"{field}: {reason}")
        self.context: dict = {}
        self.extra = extra


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel of one market (or, for ``orders``, of every market when ``market`` is
    None). ``since``: resume after this log index (book: wait until it is applied)."""

    channel: str
    market: str | None
    depth: int = DEFAULT_DEPTH
    interval: str | None = None
    limit: int = DEFAULT_CANDLES
    since: int | None = None

    @property
    def key(self) -> Key:
        return (self.channel, self.market, self.interval)

    def named(self) -> dict:
        """The fields that name it in replies."""
        named: dict = {"channel": self.channel, "market": self.market}
        if self.channel == "book":
            named["depth"] = self.depth
        if self.interval is not None:
            named["interval"] = self.interval
        return named


@dataclass(frozen=True, slots=True)
class Request:
    op: str  # "subscribe" or "unsubscribe"
    subscription: Subscription
    id: str | int | None = None


def parse_message(text: str | bytes, exchange: Exchange, max_bytes: int) -> Request:
    """A client's text frame as a Request, or FeedInputError naming the field."""
    if isinstance(text, bytes):
        raise FeedInputError("message", "expected a text frame holding a JSON object")
    if len(text) > max_bytes:
        raise FeedInputError("message", f"{len(text)} characters, over the limit of {max_bytes}")
    try:
        payload = json.loads(text)
    except RecursionError:
        raise FeedInputError("message", "nested too deeply") from None
    except ValueError as error:
        raise FeedInputError("message", f"not JSON ({error})") from None
    if not isinstance(payload, dict):
        raise FeedInputError("message", "expected a JSON object")
    context = _context(payload)
    try:
        return _request(payload, exchange, context)
    except FeedInputError as error:
        error.context = context
        raise


def _request(p: dict, exchange: Exchange, context: dict) -> Request:
    request_id = _request_id(p)
    op = p.get("op")
    if op not in ("subscribe", "unsubscribe"):
        raise FeedInputError("op", f"expected 'subscribe' or 'unsubscribe', got {_shown(op)}")
    channel = p.get("channel")
    if channel not in CHANNELS:
        raise FeedInputError(
            "channel", f"expected one of {', '.join(CHANNELS)}, got {_shown(channel)}"
        )
    allowed = _COMMON | (_FIELDS if op == "subscribe" else _KEY_FIELDS)[channel]
    for field in p:
        if field not in allowed:
            raise FeedInputError(str(field)[:_MAX_SHOWN], f"not a field of {op} {channel}")
    market = _market(p, exchange, required=channel != "orders")
    interval = _interval(p) if channel == "candles" else None
    subscription = Subscription(
        channel,
        market,
        depth=_integer(p, "depth", DEFAULT_DEPTH, DEFAULT_DEPTH, MAX_DEPTH),
        interval=interval,
        limit=_integer(p, "limit", DEFAULT_CANDLES, 1, MAX_BARS),
        since=_optional_integer(p, "since", 0, MAX_INDEX),
    )
    return Request(op, subscription, request_id)


def _context(p: dict) -> dict:
    """The parts of a request an error event echoes, when they are plain values."""
    return {
        k: p[k]
        for k in ("id", "channel", "market")
        if isinstance(p.get(k), (str, int))
        and not isinstance(p.get(k), bool)
        and len(str(p[k])) <= MAX_ID
    }


def _request_id(p: dict) -> str | int | None:
    value = p.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or len(str(value)) > MAX_ID:
        raise FeedInputError("id", f"expected a string or integer of up to {MAX_ID} characters")
    return value


def _market(p: dict, exchange: Exchange, required: bool) -> str | None:
    value = p.get("market")
    if value is None:
        if required:
            raise FeedInputError("market", "required")
        return None
    if not isinstance(value, str):
        raise FeedInputError("market", "expected a market symbol such as 'BTC/USD'")
    if exchange.market(value) is None:
        raise FeedInputError("market", f"{_shown(value)} is not a market")
    return value


def _interval(p: dict) -> str:
    value = p.get("interval")
    if value not in INTERVALS:
        raise FeedInputError(
            "interval", f"expected one of {', '.join(INTERVALS)}, got {_shown(value)}"
        )
    return value


def _integer(p: dict, field: str, default: int, low: int, high: int) -> int:
    value = _optional_integer(p, field, low, high)
    return default if value is None else value


def _optional_integer(p: dict, field: str, low: int, high: int) -> int | None:
    value = p.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FeedInputError(field, f"expected an integer from {low} to {high}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
