"""CSV exports from the command palette: a market's trades, and this trader's own fills.

What the peer remembers is exported (each market keeps its recent trades, ``docs/engine.md``),
oldest first, one row per trade under a header row. Amounts are decimal strings as the RPC
renders them (the market's own ``price_text`` / ``qty_text``: exact, never a float);
times are consensus times, both as ISO 8601 UTC with milliseconds and as the engine's ms
since the epoch, so a spreadsheet and a script read them alike. A fill's ``side`` and
``role`` are the trader's own (a maker's side is the opposite of the aggressor's; a trade
with itself, possible without self-trade prevention, is one row, as the taker).

:func:`write` raises :class:`ExportError` with the path and the reason when the file cannot
be written; nothing here touches the screen.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from engine import Exchange, Market, Trade

from . import times

TRADE_COLUMNS = ("time", "time_ms", "trade_id", "market", "price", "qty", "aggressor",
                 "maker_order", "taker_order", "maker_owner", "taker_owner", "index")  # fmt: skip
FILL_COLUMNS = ("time", "time_ms", "trade_id", "market", "side", "role", "price", "qty",
                "order_id", "counterparty", "index")  # fmt: skip
OPPOSITE = {"buy": "sell", "sell": "buy"}


class ExportError(Exception):
    """A file that could not be written: ``str()`` names it and says why."""


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[str | int, ...]]


def default_name(what: str, market: str | None, now: float) -> str:
    """``dex-trades-BTC-USD-20251125-120000.csv`` / ``dex-fills-20251125-120000.csv``."""
    where = f"-{market.replace('/', '-')}" if market else ""
    return f"dex-{what}{where}-{times.file_stamp(now)}.csv"


def trades(exchange: Exchange, symbol: str) -> Table:
    """Every trade the peer remembers in ``symbol``, oldest first."""
    market = exchange.markets[symbol]
    return Table(TRADE_COLUMNS, [_trade_row(market, t) for t in market.trades])


def fills(exchange: Exchange, owner: str) -> Table:
    """``owner``'s fills in every market, oldest first (by consensus time, then trade id)."""
    mine = [
        (market, t)
        for market in exchange.markets.values()
        for t in market.trades
        if owner in (t.maker_owner, t.taker_owner)
    ]
    mine.sort(key=lambda pair: (pair[1].time, pair[1].trade_id))
    return Table(FILL_COLUMNS, [_fill_row(market, t, owner) for market, t in mine])


def write(table: Table, path: Path) -> int:
    """Write ``table`` as CSV to ``path``; the number of rows written (header not counted)."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(table.columns)
            writer.writerows(table.rows)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExportError(f"cannot write {path}: {reason}") from None
    return len(table.rows)


def _trade_row(market: Market, t: Trade) -> tuple[str | int, ...]:
    price, qty = market.price_text(t.price), market.qty_text(t.qty)
    return (times.iso(t.time), t.time, t.trade_id, t.market, price, qty, t.aggressor,
            t.maker_order, t.taker_order, t.maker_owner, t.taker_owner, t.index)  # fmt: skip


def _fill_row(market: Market, t: Trade, owner: str) -> tuple[str | int, ...]:
    taker = t.taker_owner == owner
    side = t.aggressor if taker else OPPOSITE[t.aggressor]
    role, order, other = ("taker", t.taker_order, t.maker_owner) if taker else \
        ("maker", t.maker_order, t.taker_owner)  # fmt: skip
    price, qty = market.price_text(t.price), market.qty_text(t.qty)
    return (times.iso(t.time), t.time, t.trade_id, t.market, side, role, price, qty, order,
            other, t.index)  # fmt: skip
