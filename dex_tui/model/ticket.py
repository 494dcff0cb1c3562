"""The order ticket: what the user typed, checked against the market, as an engine command.

The ticket is checked as it is typed, so errors show next to the field before anything is
sent: a price off the tick or a quantity off the lot is refused (never rounded), as the
engine and the RPC would refuse it. A market order has no price (an optional protection
price only) and no time in force; post-only makes sense only for a resting limit order.
"""

from dataclasses import dataclass, replace

from engine import InvalidInput, Market, Submit


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


def check(form: TicketForm, market: Market) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the ticket can be sent."""
    errors: dict[str, str] = {}
    if form.type == "limit" or form.price.strip():
        try:
            market.price_units(form.price, "price")
        except InvalidInput as exc:
            errors["price"] = _say(exc, form.price, "a price")
    try:
        market.qty_units(form.qty, "qty")
    except InvalidInput as exc:
        errors["qty"] = _say(exc, form.qty, "a quantity")
    if form.post_only and (form.type == "market" or form.tif != "gtc"):
        errors["post_only"] = "post-only needs a limit order good till cancelled"
    return errors


def to_command(form: TicketForm, market: Market, owner: str, client_id: str) -> Submit:
    """The submit command for a ticket that :func:`check` passed; InvalidInput otherwise."""
    errors = check(form, market)
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
