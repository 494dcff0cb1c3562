"""The order ticket: what the user typed, checked against the market, as an engine command.

The ticket is checked as it is typed, so errors show next to the field before anything is
sent: a price off the tick or a quantity off the lot is refused (never rounded), as the
engine and the RPC would refuse it. A market order has no price (an optional protection
price only) and no time in force; post-only makes sense only for a resting limit order.

Stops wait in the book, untriggered, until a trade at or through their *trigger* price (at
or above it for a buy, at or below for a sell): a ``stop`` then becomes a market order (its
price, optional, a protection price), a ``stop_limit`` a limit order at its price. A
good-till-date order (``tif`` gtd, limit or stop-limit) needs an *expiry*, typed as in the
scenario grammar (``30s``, ``5m``, ``2h`` from sending, or a local ``HH:MM``,
:mod:`dex_tui.model.times`); it becomes the engine's ``expire_at`` when the ticket is sent.

Once the exchange holds money, the ticket also knows the most the trader can buy at the
typed price or sell now (:func:`max_lots`, the engine's ``max_qty``: what is available,
not what open orders already hold), shows it, and refuses a larger quantity at the field,
as the engine would refuse it with ``insufficient_funds``. A market buy without a price
spends what is available, so it has no such limit.
"""

import time
from dataclasses import dataclass, replace

from engine import Exchange, InvalidInput, Market, Submit

from .times import Expiry, parse_expiry, until

TYPES = ("limit", "market", "stop", "stop_limit")
#: Types that become a market order (when sent, or when triggered): no time in force.
BECOME_MARKET = ("market", "stop")
STOPS = ("stop", "stop_limit")


@dataclass(frozen=True, slots=True)
class TicketForm:
    side: str = "buy"
    type: str = "limit"  # one of TYPES
    price: str = ""  # limit price; for a market order or a stop an optional protection price
    qty: str = ""
    tif: str = "gtc"  # ignored for the types that become market orders (always ioc)
    post_only: bool = False
    trigger: str = ""  # a stop's trigger price
    expiry: str = ""  # a gtd order's expiry, as typed

    @property
    def becomes_market(self) -> bool:
        return self.type in BECOME_MARKET

    @property
    def gtd(self) -> bool:
        return self.tif == "gtd" and not self.becomes_market

    def flipped(self, side: str) -> "TicketForm":
        return replace(self, side=side)


def max_lots(form: TicketForm, market: Market, exchange: Exchange, owner: str) -> int | None:
    """The most lots ``owner`` can buy at the typed price, or sell; None when there is no
    limit to show: no money in this exchange, no account yet (the balances panel says so;
    the engine would refuse the order as such), or a buy without a (valid) price."""
    if not exchange.balances(owner):
        return None
    price = None
    if form.side == "buy":
        try:
            price = market.price_units(form.price, "price")
        except InvalidInput:
            return None  # a limit buy needs a price first; a market buy spends what it has
    return exchange.max_qty(owner, market.symbol, form.side, price)


def check(form: TicketForm, market: Market, most: int | None = None) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the ticket can be sent. ``most``:
    the most lots the trader can trade at the ticket's price (:func:`max_lots`)."""
    errors: dict[str, str] = {}
    if not form.becomes_market or form.price.strip():
        try:
            market.price_units(form.price, "price")
        except InvalidInput as exc:
            errors["price"] = _say(exc, form.price, "a price")
    if form.type in STOPS:
        try:
            market.price_units(form.trigger, "trigger")
        except InvalidInput as exc:
            errors["trigger"] = _say(exc, form.trigger, "a trigger price")
    try:
        lots = market.qty_units(form.qty, "qty")
    except InvalidInput as exc:
        errors["qty"] = _say(exc, form.qty, "a quantity")
    else:
        if most is not None and lots > most:
            errors["qty"] = _too_much(form, market, most)
    if form.gtd:
        try:
            parse_expiry(form.expiry)
        except ValueError as exc:
            errors["expiry"] = str(exc)
    if form.post_only and (form.becomes_market or form.tif not in ("gtc", "gtd")):
        errors["post_only"] = "post-only needs a limit order that rests (gtc or gtd)"
    return errors


def expiry_hint(form: TicketForm, now: float) -> str:
    """When a gtd ticket sent now would expire ("" when it is not gtd or not yet valid)."""
    if not form.gtd:
        return ""
    try:
        expiry = parse_expiry(form.expiry)
    except ValueError:
        return ""
    return f"expires {until(expiry.at_ms(now), now)}"


def to_command(
    form: TicketForm,
    market: Market,
    owner: str,
    client_id: str,
    most: int | None = None,
    now: float | None = None,
) -> Submit:
    """The submit command for a ticket that :func:`check` passed; InvalidInput otherwise.
    ``now`` (seconds, the wall clock by default) is when a gtd expiry is counted from."""
    errors = check(form, market, most)
    if errors:
        field, reason = next(iter(errors.items()))
        raise InvalidInput(field, reason)
    price = market.price_units(form.price, "price") if form.price.strip() else None
    expiry: Expiry | None = parse_expiry(form.expiry) if form.gtd else None
    return Submit(
        owner,
        market.symbol,
        form.side,
        form.type,
        price,
        market.qty_units(form.qty, "qty"),
        "ioc" if form.becomes_market else form.tif,
        form.post_only,
        "none",
        client_id,
        expire_at=None if expiry is None else expiry.at_ms(time.time() if now is None else now),
        trigger=market.price_units(form.trigger, "trigger") if form.type in STOPS else None,
    )


def _say(exc: InvalidInput, text: str, what: str) -> str:
    if not text.strip():
        return f"enter {what}"
    return exc.reason


def _too_much(form: TicketForm, market: Market, most: int) -> str:
    most_text = market.qty_text(most)
    if form.side == "sell":
        return f"more than the {most_text} {market.base} available to sell"
    return f"more than available {market.quote} pays for at {form.price.strip()}: max {most_text}"
