"""The depth ladder's content: a fixed number of price levels per side, grouped and summed.

Geometry never changes with the book: there are always ``rows`` ask rows and ``rows`` bid
rows (missing levels are ``None``), so the spread row stays on one screen row while levels
come and go. Grouping buckets prices by a multiple of the tick, rounding conservatively:
bids down, asks up (a bucket never shows a better price than is really there).
"""

from dataclasses import dataclass

from engine import Exchange, Market

#: Grouping steps, in ticks, that ``-`` / ``+`` walk through.
GROUPS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
#: Levels per side that ``[`` / ``]`` walk through.
DEPTHS = (5, 10, 15, 20, 50)
MAX_RAW_LEVELS = 5_000  # levels read from the book to fill grouped rows, at most


@dataclass(frozen=True, slots=True)
class Level:
    price: int  # ticks (the bucket's price when grouped)
    qty: int  # lots
    count: int  # orders
    cum: int  # lots from the best price out to this level
    own: bool  # this peer's trader has an order here


@dataclass(frozen=True, slots=True)
class Ladder:
    market: Market
    asks: tuple[Level | None, ...]  # best first; always ``rows`` long
    bids: tuple[Level | None, ...]
    last_price: int | None  # ticks of the newest trade
    last_tick: int  # +1 uptick, -1 downtick, 0 unchanged or unknown
    max_cum: int  # the largest cumulative size shown: depth bars are cum / max_cum
    group: int  # ticks per row

    @property
    def spread(self) -> int | None:
        if self.asks[0] is None or self.bids[0] is None:
            return None
        return self.asks[0].price - self.bids[0].price

    @property
    def mid2(self) -> int | None:
        """Twice the mid price in ticks (an integer, so no rounding)."""
        if self.asks[0] is None or self.bids[0] is None:
            return None
        return self.asks[0].price + self.bids[0].price


def build_ladder(exchange: Exchange, symbol: str, owner: str, rows: int, group: int = 1) -> Ladder:
    market = exchange.markets[symbol]
    raw_bids, raw_asks = exchange.depth(symbol, min(rows * group, MAX_RAW_LEVELS))
    own = {(o.side, o.price) for o in exchange.open_orders(owner, symbol)}
    bids = _side(raw_bids, rows, group, own, "buy")
    asks = _side(raw_asks, rows, group, own, "sell")
    cums = [level.cum for level in (*bids, *asks) if level is not None]
    last_price, last_tick = _last(market)
    return Ladder(market, asks, bids, last_price, last_tick, max(cums, default=0), group)


def _side(
    raw: list, rows: int, group: int, own: set[tuple[str, int | None]], side: str
) -> tuple[Level | None, ...]:
    buckets: list[list[int]] = []  # [price, qty, count, own]
    for price, qty, count in raw:
        bucket = _bucket(price, group, side)
        mine = (side, price) in own
        if buckets and buckets[-1][0] == bucket:
            last = buckets[-1]
            last[1] += qty
            last[2] += count
            last[3] |= mine
        elif len(buckets) < rows:
            buckets.append([bucket, qty, count, mine])
        else:
            break
    levels: list[Level | None] = []
    cum = 0
    for price, qty, count, mine in buckets:
        cum += qty
        levels.append(Level(price, qty, count, cum, bool(mine)))
    levels.extend([None] * (rows - len(levels)))
    return tuple(levels)


def _bucket(price: int, group: int, side: str) -> int:
    if group == 1:
        return price
    if side == "buy":
        return price // group * group
    return -(-price // group) * group


def _last(market: Market) -> tuple[int | None, int]:
    """The newest trade's price and its tick against the last different price."""
    trades = market.trades
    if not trades:
        return None, 0
    last = trades[-1].price
    for trade in reversed(trades):
        if trade.price != last:
            return last, 1 if last > trade.price else -1
    return last, 0


def step(options: tuple[int, ...], current: int, delta: int) -> int:
    """The next option up (delta=1) or down (-1) from ``current``, clamped at the ends."""
    lower = [o for o in options if o < current]
    higher = [o for o in options if o > current]
    if delta > 0:
        return higher[0] if higher else current
    return lower[-1] if lower else current
