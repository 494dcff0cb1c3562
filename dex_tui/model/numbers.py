"""Fixed-width decimal text for a market's prices and sizes.

The engine's ``price_text`` gives the shortest exact text ("2000.5"); a ladder or tape
column needs the same number of decimals on every row, or the digits jitter as prices
change. The decimals come from the market's tick and lot, so nothing is ever rounded.
"""

from decimal import Decimal

from engine import Market


def places(step: Decimal) -> int:
    """Decimal places of a step: 0.1 -> 1, 0.001 -> 3, 5 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fixed(units: int, step: Decimal) -> str:
    return f"{units * step:.{places(step)}f}"


def price(market: Market, ticks: int) -> str:
    return fixed(ticks, market.tick_step)


def qty(market: Market, lots: int) -> str:
    return fixed(lots, market.lot_step)
