"""The balances panel's content: what the trader has, what it is worth, and its P&L.

Per asset: *available* (free to spend) and *held* (what its open orders hold), and the
value of both at the last price of that asset's market against the quote currency,
:data:`VALUE_IN` (USD; USD itself counts at 1). An asset with no such market, or whose
market has not traded yet, has no price: its value is not shown, the panel says why, and
it is left out of the total and of the P&L.

**P&L since the grant**, marked to market: the sum over assets of (balance - grant) x last
price, where balance = available + held and the grant is what the trader's account was
opened with. Fees paid lower it; transfers received or sent count too (a balance is a
balance). Everything is exact decimal arithmetic on the engine's integer units; only the
text rounds, to cents (:data:`VALUE_PLACES`, half even).

Cheap on purpose: the app rebuilds this on every refresh tick in which the exchange moved.
It reads one account (a few assets) and the newest trade of each market, nothing that
grows with the book or the traffic; :class:`Balances` compares by value, so the panel
repaints only when something shown changed.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from engine import Exchange

VALUE_IN = "USD"
VALUE_PLACES = 2
_CENT = Decimal(1).scaleb(-VALUE_PLACES)

NO_MONEY = "this exchange holds no money"
NO_ACCOUNT = "no account yet: it opens when this trader is registered"


@dataclass(frozen=True, slots=True)
class Holding:
    asset: str
    available: int  # the asset's units
    held: int
    grant: int  # what the account was opened with
    unit: Decimal  # one unit of the asset, as a decimal amount
    price: Decimal | None  # last price in VALUE_IN; 1 for VALUE_IN itself; None: unknown
    why_unpriced: str = ""  # "no trade yet" / "no USD market" when price is None

    @property
    def balance(self) -> Decimal:
        return (self.available + self.held) * self.unit

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else self.balance * self.price

    @property
    def pnl(self) -> Decimal | None:
        """(balance - grant) x price; None without a price."""
        if self.price is None:
            return None
        return (self.available + self.held - self.grant) * self.unit * self.price


@dataclass(frozen=True, slots=True)
class Balances:
    quote: str
    holdings: tuple[Holding, ...]
    state: str = ""  # why there are no balances to show ("" when there are)

    @property
    def total(self) -> Decimal:
        """The value of every asset that has a price."""
        return sum((h.value for h in self.holdings if h.value is not None), Decimal(0))

    @property
    def pnl(self) -> Decimal:
        """P&L since the grant over the assets that have a price."""
        return sum((h.pnl for h in self.holdings if h.pnl is not None), Decimal(0))

    @property
    def unvalued(self) -> tuple[str, ...]:
        """Assets left out of the total or the P&L that would be in them with a price:
        those with a balance, or whose balance moved away from the grant."""
        return tuple(h.asset for h in self.holdings
                     if h.price is None and (h.available + h.held or h.grant))  # fmt: skip


def last_prices(exchange: Exchange, quote: str = VALUE_IN) -> dict[str, Decimal]:
    """Per asset traded against ``quote``: its newest trade's price (of the market that
    traded last, should two markets pair it with ``quote``)."""
    newest: dict[str, tuple[int, Decimal]] = {}
    for market in exchange.markets.values():
        if market.quote != quote or not market.trades:
            continue
        trade = market.trades[-1]
        seen = newest.get(market.base)
        if seen is None or trade.trade_id > seen[0]:
            newest[market.base] = (trade.trade_id, trade.price * market.tick_step)
    return {asset: price for asset, (_, price) in newest.items()}


def balances(exchange: Exchange, owner: str, quote: str = VALUE_IN) -> Balances:
    """``owner``'s balances, valued in ``quote``: assets in the engine's order, ``quote``
    last (the panel shows the total under it)."""
    ledger = exchange.ledger
    if not ledger.on:
        return Balances(quote, (), NO_MONEY)
    rows = exchange.balances(owner)
    if not rows:
        return Balances(quote, (), NO_ACCOUNT)
    prices = last_prices(exchange, quote)
    paired = {m.base for m in exchange.markets.values() if m.quote == quote}
    holdings = []
    rows.sort(key=lambda row: row[0] == quote)  # the quote currency last, beside the total
    for name, available, held in rows:
        asset = ledger.by_name[name]
        price = Decimal(1) if name == quote else prices.get(name)
        why = ""
        if price is None:
            why = "no trade yet" if name in paired else f"no {quote} market"
        grant = ledger.grant[asset.asset_id]
        holdings.append(Holding(name, available, held, grant, asset.unit, price, why))
    return Balances(quote, tuple(holdings))


# ---------------------------------------------------------------------- text


def amount_text(units: int, unit: Decimal) -> str:
    """An asset amount, exact and as short as it goes, its thousands grouped:
    "999,960.08", "0.25", "100"."""
    value = (units * unit).normalize() if units else Decimal(0)
    whole, _, fraction = format(value, "f").partition(".")
    grouped = f"{int(whole):,}"
    return f"{grouped}.{fraction}" if fraction else grouped


def money_text(value: Decimal, signed: bool = False) -> str:
    """A value in the quote currency, to cents: "1,000,977.00"; with ``signed``, "+2.00"."""
    cents = value.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if cents == 0:
        cents, signed = abs(cents), False  # "0.00": never "-0.00", nor "+0.00"
    return f"{cents:+,.{VALUE_PLACES}f}" if signed else f"{cents:,.{VALUE_PLACES}f}"


@dataclass(frozen=True, slots=True)
class BalanceLines:
    """The panel as text: a header, one row per asset, the total and P&L, a note."""

    rows: tuple[tuple[str, str, str, str], ...]  # asset, available, held, value
    total: str
    pnl: str
    pnl_sign: int  # +1 gain, -1 loss, 0 even
    note: str  # which assets are not valued and why; or why there is nothing to show


def lines(b: Balances) -> BalanceLines:
    if b.state:
        return BalanceLines((), "", "", 0, b.state)
    rows = tuple((h.asset, amount_text(h.available, h.unit), amount_text(h.held, h.unit),
                  money_text(h.value) if h.value is not None else _short(h.why_unpriced))
                 for h in b.holdings)  # fmt: skip
    pnl = b.pnl.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    why: dict[str, list[str]] = {}  # reason -> assets, in the order shown
    for h in b.holdings:
        if h.asset in b.unvalued:
            why.setdefault(h.why_unpriced, []).append(h.asset)
    note = "; ".join(f"{', '.join(names)}: {reason}, not valued" for reason, names in why.items())
    return BalanceLines(rows, money_text(b.total), money_text(b.pnl, signed=True),
                        (pnl > 0) - (pnl < 0), note)  # fmt: skip


def _short(why: str) -> str:
    """The value cell of an asset without a price: "no trade" or "no market"."""
    return "no trade" if why.startswith("no trade") else "no market"
