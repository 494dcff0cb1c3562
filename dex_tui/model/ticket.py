"""The order ticket: what the user typed, checked against the market, as an engine command.

The ticket is checked as it is typed, so errors show next to the field before anything is
sent: a price off the tick or a quantity off the lot is refused (never rounded), as the
engine and the RPC would refuse it. A market order has no price (an optional protection
price only) and no time in force; post-only makes sense only for a resting limit order.

Once the exchange holds money, the ticket also knows the most the trader can buy at the
typed price or sell now (:func:`max_lots`, the engine's ``max_qty``: what is available,
not what open orders already hold), shows it, and refuses a larger quantity at the field,
as the engine would refuse it with ``insufficient_funds``. A market buy without a price
spends what is available, so it has no such limit.
"""

from dataclasses import dataclass, replace

from engine import Exchange, InvalidInput, Market, Submit


@dataclass(frozen=True, slots=True)
class TicketForm:
    side: str = "buy"
    type: str = "limit"  # "limit" or "market"
    price: str = ""  # limit price; for a market order an optional protection price
    qty: str = ""
    tif: str = "gtc"
    post_only: bool = False

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
    if form.type == "limit" or form.price.strip():
        try:
            market.price_units(form.price, "price")
        except InvalidInput as exc:
            errors["price"] = _say(exc, form.price, "a price")
    try:
        lots = market.qty_units(form.qty, "qty")
    except InvalidInput as exc:
        errors["qty"] = _say(exc, form.qty, "a quantity")
    else:
        if most is not None and lots > most:
            errors["qty"] = _too_much(form, market, most)
    if form.post_only and (form.type == "market" or form.tif != "gtc"):
        errors["post_only"] = "post-only needs a limit order good till cancelled"
    return errors


def to_command(
    form: TicketForm, market: Market, owner: str, client_id: str, most: int | None = None
) -> Submit:
    """The submit command for a ticket that :func:`check` passed; InvalidInput otherwise."""
    errors = check(form, market, most)
    if errors:
        field, reason = next(iter(errors.items()))
        raise InvalidInput(field, reason)
    price = market.price_units(form.price, "price") if form.price.strip() else None
    tif = "ioc" if form.type == "market" else form.tif
    return Submit(
        owner,
        market.symbol,
        form.side,
        form.type,
        price,
        market.qty_units(form.qty, "qty"),
        tif,
        form.post_only,
        "none",
        client_id,
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
