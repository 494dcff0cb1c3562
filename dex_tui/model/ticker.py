"""The header's ticker: last price, 24 h change (absolute and %), high, low and volume.

From ``Exchange.ticker`` (consensus time, the same on every peer): ``(last, change, high,
low, volume)`` in ticks and lots over the last 24 h, or None for a market that never
traded. The change is against the price 24 h ago (``last - change``), so its percentage
is exact decimal arithmetic, rounded half-even to hundredths only when shown. Runs of
``(text, kind)``, like the chart's: ``symbol``, ``label``, ``value``, and ``up`` /
``down`` / ``flat`` for the last price and the change, coloured by the change's sign.
"""

from decimal import ROUND_HALF_EVEN, Decimal

from engine import Market

from . import numbers

Ticker = tuple[int, int, int, int, int]  # (last, change, high, low, volume)
Run = tuple[str, str]
HUNDREDTH = Decimal("0.01")


def ticker_runs(market: Market, ticker: Ticker | None) -> tuple[Run, ...]:
    if ticker is None:
        return ((market.symbol, "symbol"), ("  no trades yet", "label"))
    last, change, high, low, volume = ticker
    trend = "up" if change > 0 else "down" if change < 0 else "flat"
    sign = "+" if change > 0 else "-" if change < 0 else "±"
    reference = last - change
    percent = (Decimal(abs(change) * 100) / Decimal(reference)).quantize(HUNDREDTH, ROUND_HALF_EVEN)
    return (
        (market.symbol, "symbol"),
        (f" {numbers.price(market, last)}", trend),
        ("  24h ", "label"),
        (f"{sign}{numbers.price(market, abs(change))} ({sign}{percent}%)", trend),
        ("  H ", "label"),
        (numbers.price(market, high), "value"),
        ("  L ", "label"),
        (numbers.price(market, low), "value"),
        ("  V ", "label"),
        (numbers.qty(market, volume), "value"),
    )
