"""Money: the assets and their units, the grant, the fees, and what the fee account holds.

Every balance is an integer count of its asset's *unit*, ``10**-places``, chosen so that
every amount a market can produce is a whole number of units: a market's base amounts are
multiples of its lot, its quote amounts multiples of tick x lot. An asset's places are set
by the first market that trades it and grow with later markets only until the exchange is
configured; after that a market needing a finer unit is refused (balances are never
rescaled). Each market keeps the two factors its fills need (``Market.base_per_lot``,
``Market.quote_per_notional``), so settling a fill is integer multiplication, nothing else.

The exchange holds no money until it is **configured** (the ``Configure`` command, once, in
a new cluster's founding entry): from then on every trader needs an account
(``OpenAccount``, which credits the grant), every order holds what it can spend, and every
fill settles. An engine never configured matches without money, which is how the engine
tests of the matching rules and the benchmarks' "no accounts" rows use it.

The invariant, checked by the tests and the simulator: for every asset, the sum over all
accounts (available and held) plus the fee account equals what was granted, at every index.

Balances live on the :class:`~engine.orders.Owner`: a :class:`Balance` per asset id, and
each order keeps the two it moves (the one it holds from, the one it receives into), so
settling touches the balances themselves, never a table. Nothing else here is on the
matching path.
"""

from decimal import Decimal
from typing import Final

from .errors import InvalidInput
from .records import mypyc_attr
from .units import MAX_TEXT, from_units, parse_decimal, to_units

MAX_FEE_BPS: Final = 1000  # 10%: a fee rate above this is surely a mistake
MAX_ASSETS: Final = 64
DEFAULT_GRANT: Final = "BTC=10,ETH=100,USD=1000000"


def places_of(step: Decimal) -> int:
    """Decimal places of ``step`` written without trailing zeros (0 for whole numbers)."""
    return max(0, -int(step.normalize().as_tuple().exponent))


def parse_grant(text: str, field: str = "grant") -> list[tuple[str, str]]:
    """``"BTC=10,ETH=100"`` as [(asset, amount text)], in the order given; InvalidInput naming
    ``field`` when it is malformed, names an asset twice or an amount is not positive.
    An empty text is an empty grant."""
    if not isinstance(text, str) or len(text) > 16 * MAX_TEXT:
        raise InvalidInput(field, "expected ASSET=AMOUNT,... such as BTC=10,USD=1000")
    pairs: list[tuple[str, str]] = []
    for part in text.split(",") if text.strip() else []:
        asset, sep, amount = part.strip().partition("=")
        asset = asset.strip()
        if not sep or not asset or not asset.isalnum() or not asset.isascii():
            raise InvalidInput(field, f"expected ASSET=AMOUNT, got {part.strip()[:40]!r}")
        if any(asset == seen for seen, _ in pairs):
            raise InvalidInput(field, f"{asset} is given twice")
        parse_decimal(amount.strip(), f"{field} {asset}")
        pairs.append((asset, amount.strip()))
    return pairs


@mypyc_attr(acyclic=True)
class Balance:
    """One trader's units of one asset: ``available`` to spend, ``held`` by open orders.

    An object with two integer fields rather than two lists of integers: compiled, each is
    a native field, so a fill's several updates are plain stores, not a boxed integer
    allocated (and the old one freed) per update."""

    __slots__ = ("available", "held")

    def __init__(self, available: int = 0, held: int = 0) -> None:
        self.available = available
        self.held = held


class Asset:
    __slots__ = ("asset_id", "name", "places", "unit")

    def __init__(self, asset_id: int, name: str, places: int) -> None:
        self.asset_id = asset_id
        self.name = name
        self.places = places
        self.unit = Decimal(1).scaleb(-places)

    def units(self, value: object, field: str) -> int:
        """A decimal amount as a count of this asset's units, or InvalidInput."""
        return to_units(value, self.unit, field)

    def text(self, units: int) -> str:
        """Units as a plain decimal string (negative never happens: balances stay >= 0)."""
        return from_units(units, self.unit)


class Ledger:
    """The exchange's money settings and the fee account; balances are on the owners."""

    __slots__ = ("assets", "by_name", "fee_account", "grant", "granted", "maker_bps", "on",
                 "taker_bps")  # fmt: skip

    def __init__(self) -> None:
        self.assets: list[Asset] = []  # by id, in order of first appearance
        self.by_name: dict[str, Asset] = {}
        self.on = False  # configured: money is held and settled
        self.grant: list[int] = []  # per asset id: what each new account receives
        self.granted: list[int] = []  # per asset id: the sum of every grant made
        self.fee_account: list[Balance] = []  # per asset id: the fees taken (available)
        self.maker_bps = 0
        self.taker_bps = 0

    @property
    def fees(self) -> list[int]:
        """Per asset id: what the fee account holds."""
        return [balance.available for balance in self.fee_account]

    def asset(self, name: str) -> Asset | None:
        return self.by_name.get(name)

    def need_places(self, name: str, places: int, adding: int = 0) -> str:
        """Why an asset ``name`` cannot have a unit of ``places`` decimals ("" if it can),
        when ``adding`` other new assets come with it."""
        asset = self.by_name.get(name)
        if asset is not None and places > asset.places and self.on:
            return f"finer than the unit of {name} ({asset.unit:f}); balances are never rescaled"
        if asset is None and len(self.assets) + adding >= MAX_ASSETS:
            return f"at most {MAX_ASSETS} assets"
        return ""

    def add_places(self, name: str, places: int) -> tuple[Asset, bool]:
        """The asset ``name`` with a unit of at least ``places`` decimals (created or made
        finer; call ``need_places`` first). True when it is new."""
        asset = self.by_name.get(name)
        if asset is None:
            asset = Asset(len(self.assets), name, places)
            self.assets.append(asset)
            self.by_name[name] = asset
            self.grant.append(0)
            self.granted.append(0)
            self.fee_account.append(Balance())
            return asset, True
        if places > asset.places:
            self.assets[asset.asset_id] = asset = Asset(asset.asset_id, name, places)
            self.by_name[name] = asset
        return asset, False

    def fee(self, amount: int, maker: bool) -> int:
        """The fee on receiving ``amount`` units (rounded down, so never more than owed)."""
        return amount * (self.maker_bps if maker else self.taker_bps) // 10_000
