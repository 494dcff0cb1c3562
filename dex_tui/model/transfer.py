"""A transfer form (to, asset, amount) checked against the trader's balances, as a command.

As with the order ticket, what is typed is checked as it is typed and a field that is
wrong says why before anything is sent: an asset this exchange does not have, an amount
that is not a whole number of the asset's unit (refused, never rounded), or more than the
trader has available. Whether the receiver exists is left to the engine: this peer's
state may not have applied a trader's registration that the cluster already committed,
and the engine's answer (``to: no trader named ...``) comes back as the outcome.
"""

from dataclasses import dataclass

from engine import Exchange, InvalidInput, Transfer
from engine.accounts import Asset

from .balances import amount_text


@dataclass(frozen=True, slots=True)
class TransferForm:
    to: str = ""
    asset: str = ""
    amount: str = ""


def find_asset(exchange: Exchange, name: str) -> Asset | None:
    """The asset typed, as spelled or in capitals ("usd" is USD)."""
    name = name.strip()
    return exchange.asset(name) or exchange.asset(name.upper())


def available(exchange: Exchange, owner: str, asset: Asset) -> int:
    return next((free for name, free, _ in exchange.balances(owner) if name == asset.name), 0)


def check(form: TransferForm, exchange: Exchange, owner: str) -> dict[str, str]:
    """Field name -> what is wrong with it; empty when the transfer can be sent."""
    errors: dict[str, str] = {}
    to = form.to.strip()
    if not to:
        errors["to"] = "enter the receiving trader's name"
    elif to == owner:
        errors["to"] = "that is this trader: a transfer to oneself changes nothing"
    asset = find_asset(exchange, form.asset)
    if not form.asset.strip():
        errors["asset"] = "enter an asset"
    elif asset is None:
        names = ", ".join(a.name for a in exchange.ledger.assets) or "none"
        errors["asset"] = f"unknown asset {form.asset.strip()!r} (assets: {names})"
    if not form.amount.strip():
        errors["amount"] = "enter an amount"
    elif asset is not None:
        try:
            units = asset.units(form.amount, "amount")
        except InvalidInput as exc:
            errors["amount"] = exc.reason
        else:
            free = available(exchange, owner, asset)
            if units > free:
                errors["amount"] = (f"more than the {amount_text(free, asset.unit)} "
                                    f"{asset.name} available")  # fmt: skip
    return errors


def hint(form: TransferForm, exchange: Exchange, owner: str) -> str:
    """What the trader has available of the asset typed ("" when none is recognised)."""
    asset = find_asset(exchange, form.asset) if form.asset.strip() else None
    if asset is None:
        return ""
    free = available(exchange, owner, asset)
    return f"available: {amount_text(free, asset.unit)} {asset.name} (unit {asset.unit:f})"


def to_command(form: TransferForm, exchange: Exchange, owner: str) -> Transfer:
    """The transfer for a form that :func:`check` passed; InvalidInput otherwise."""
    errors = check(form, exchange, owner)
    if errors:
        field, reason = next(iter(errors.items()))
        raise InvalidInput(field, reason)
    asset = find_asset(exchange, form.asset)
    assert asset is not None
    return Transfer(owner, form.to.strip(), asset.name, asset.units(form.amount, "amount"))
