"""Market data on the screen: consensus times, the price chart, the header's ticker and the
CSV exports. Models first (no screen: the chart's layout cell by cell, the ticker's change,
the export tables and files, time texts), then Pilot tests over a LocalPeer whose clock a
test moves: candles at each interval key, a redraw only when the candles changed, the
ticker following trades, and both exports from the command palette."""

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dex_tui.model import export, times
from dex_tui.model.chart import GLYPHS, layout
from dex_tui.model.ticker import ticker_runs
from dex_tui.screens.export import ExportScreen
from dex_tui.widgets.chart import PriceChart
from dex_tui.widgets.tape import TradeTape
from engine import Submit
from tests.tui_helpers import (
    CLOCK,
    CLOCK_MS,
    Clock,
    book_peer,
    local_peer,
    make_app,
    run_from_palette,
    settle,
)

BTC = "BTC/USD"
SIZE = (130, 40)
MARKET = local_peer().exchange.markets[BTC]  # tick 0.1, lot 0.001
MINUTE = 60_000


#: The screen shows consensus time in local time: UTC in these tests (conftest.utc).
pytestmark = pytest.mark.usefixtures("utc")


def text(row) -> str:
    """A chart row's or the ticker's runs as the text they show."""
    return "".join(run for run, _ in row)


def trade(peer, price: int, qty: int, n: int, buyer: str = "bob", seller: str = "carol"):
    """A trade at ``price`` between two traders (the seller rests, the buyer takes)."""
    peer.apply(Submit(seller, BTC, "sell", "limit", price, qty, client_id=f"s{n}"))
    peer.apply(Submit(buyer, BTC, "buy", "limit", price, qty, "ioc", client_id=f"b{n}"))


# ---------------------------------------------------------------------- times


def test_consensus_times_as_shown_and_as_written():
    assert times.hms(CLOCK_MS + 61_999) == "12:01:01"
    assert times.hm(CLOCK_MS) == "12:00"
    assert times.iso(CLOCK_MS + 250) == "2025-11-25T12:00:00.250Z"
    assert times.file_stamp(CLOCK) == "20251125-120000"


def test_an_expiry_is_relative_to_sending_or_the_next_local_clock_time():
    assert times.parse_expiry("30s").at_ms(CLOCK) == CLOCK_MS + 30_000
    assert times.parse_expiry(" 2H ").at_ms(CLOCK) == CLOCK_MS + 7_200_000
    assert times.parse_expiry("12:30").at_ms(CLOCK) == CLOCK_MS + 30 * MINUTE
    assert times.parse_expiry("11:00").at_ms(CLOCK) == CLOCK_MS + 23 * 60 * MINUTE  # tomorrow
    assert times.parse_expiry("12:00").at_ms(CLOCK) == CLOCK_MS + 24 * 60 * MINUTE  # not now
    assert times.until(CLOCK_MS + 90_000, CLOCK) == "12:01:30, in 1m 30s"
    assert times.until(CLOCK_MS, CLOCK) == "12:00:00, expired"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("", "enter an expiry"), ("soon", "expected a duration such as 30s"),
     ("0m", "no time from now"), ("367000000s", "more than 366 days"),
     ("7:61", "not a time of day"), ("1.5h", "expected a duration")],
)  # fmt: skip
def test_a_bad_expiry_says_what_was_expected(typed, reason):
    with pytest.raises(ValueError, match=reason):
        times.parse_expiry(typed)


@given(st.integers(1, 3600), st.sampled_from(["ms", "s", "m", "h"]))
def test_an_expiry_reads_back_from_its_text(number, unit):
    expiry = times.parse_expiry(f"{number}{unit}")
    assert times.parse_expiry(expiry.text()) == expiry


# ---------------------------------------------------------------------- the chart


def test_candles_are_bodies_and_wicks_at_half_a_row():
    # 3 price rows = 6 halves from 102 (top) to 97 (bottom): one tick a half-row
    up = (CLOCK_MS, 98, 102, 97, 101, 5)  # body 98..101, wicks to 102 and 97
    down = (CLOCK_MS + MINUTE, 101, 101, 100, 100, 1)  # body 101..100: the second half-row
    view = layout([up, down], MARKET, "1m", 12, 4)
    assert view.candles == 2
    columns = ["".join(text(row)[i] for row in view.rows[:3]) for i in (4, 5)]
    assert columns == ["╽┃╿", "╻╹ "]  # wick over body, body, body over wick; body halves
    first = view.rows[0]
    assert ("╽", "up") in first and ("╻", "down") in first
    assert text(view.rows[1]).endswith("┤ 10.0") and ("10.0", "last") in [
        (t.strip(), k) for t, k in view.rows[1]
    ]  # the last close (100 ticks) labelled on its row, highlighted
    assert text(view.rows[3]) == "    12:00   "  # under the first candle


def test_the_chart_shows_the_newest_candles_that_fit_and_labels_periods():
    bars = [(CLOCK_MS + n * MINUTE, 1000, 1001, 999, 1000, 1) for n in range(60)]
    view = layout(bars, MARKET, "1m", 40, 8)
    assert view.candles == 40 - len("100.1") - 2
    labels = text(view.rows[-1]).split()
    assert labels == ["12:27", "12:45"]  # the first one shown, then each quarter hour
    assert all(len(text(row)) == 40 for row in view.rows)


def test_a_chart_without_trades_or_room_says_so():
    assert "no trades in BTC/USD yet" in text(layout([], MARKET, "1m", 40, 6).rows[3])
    bar = [(CLOCK_MS, 1000, 1000, 1000, 1000, 1)]
    assert "too small" in text(layout(bar, MARKET, "1m", 40, 2).rows[1])
    assert layout(bar, MARKET, "1m", 0, 5).rows == ()


def _bars(quads: list[tuple[int, int, int, int]]) -> list[tuple[int, ...]]:
    """Candles a minute apart from four prices each: open, close, and two more for the
    wicks (high and low are the extremes of the four)."""
    return [(CLOCK_MS + n * MINUTE, q[0], max(q), min(q), q[1], 1) for n, q in enumerate(quads)]


PRICE = st.integers(1, 10**9)
BARS = st.lists(st.tuples(PRICE, PRICE, PRICE, PRICE), min_size=1, max_size=80).map(_bars)


@settings(max_examples=150, deadline=None)
@given(BARS, st.integers(1, 120), st.integers(1, 30), st.sampled_from(["1m", "5m", "1h"]))
def test_any_candles_fill_the_chart_exactly(bars, width, height, interval):
    view = layout(bars, MARKET, interval, width, height)
    assert len(view.rows) == height
    assert all(len(text(row)) == width for row in view.rows)
    assert 0 <= view.candles <= min(len(bars), width)
    kinds = [kind for row in view.rows for _, kind in row]
    assert kinds.count("last") == (1 if view.candles else 0)  # the last close, labelled once
    glyphs = {t for row in view.rows for t, kind in row if kind in ("up", "down")}
    assert set("".join(glyphs)) <= set(GLYPHS.values())


# ---------------------------------------------------------------------- the ticker


def test_the_ticker_says_last_change_high_low_and_volume():
    assert text(ticker_runs(MARKET, None)) == "BTC/USD  no trades yet"
    up = ticker_runs(MARKET, (1005, 5, 1010, 990, 2500))
    assert text(up) == "BTC/USD 100.5  24h +0.5 (+0.50%)  H 101.0  L 99.0  V 2.500"
    assert [kind for _, kind in up][1] == "up"
    down = ticker_runs(MARKET, (999, -2, 1001, 999, 1))
    assert "24h -0.2 (-0.20%)" in text(down) and ("down" in {k for _, k in down})
    assert "±0.0 (±0.00%)" in text(ticker_runs(MARKET, (1000, 0, 1000, 1000, 0)))
    half = ticker_runs(MARKET, (8010, 10, 8010, 8000, 1))  # +1.0 on 800.0: 0.125%, half-even
    assert "+1.0 (+0.12%)" in text(half)


# ---------------------------------------------------------------------- exports


def traded_peer():
    """alice sells to bob at 100.0 (alice the maker), then buys from carol at 100.2."""
    clock = Clock()
    peer = local_peer(clock=clock)
    peer.apply(Submit("alice", BTC, "sell", "limit", 1000, 250, client_id="a1"))
    clock.ms += 1500
    peer.apply(Submit("bob", BTC, "buy", "limit", 1000, 250, "ioc", client_id="b1"))
    clock.ms += 1500
    peer.apply(Submit("carol", BTC, "sell", "limit", 1002, 100, client_id="c1"))
    peer.apply(Submit("alice", BTC, "buy", "limit", 1002, 100, "ioc", client_id="a2"))
    trade(peer, 1003, 5, 9)  # bob and carol: not alice's
    return peer


def test_the_trades_table_is_decimal_strings_with_both_times():
    table = export.trades(traded_peer().exchange, BTC)
    assert table.columns[:6] == ("time", "time_ms", "trade_id", "market", "price", "qty")
    first = dict(zip(table.columns, table.rows[0], strict=True))
    assert first["time"] == "2025-11-25T12:00:01.500Z" and first["time_ms"] == CLOCK_MS + 1500
    assert (first["price"], first["qty"], first["aggressor"]) == ("100", "0.25", "buy")
    assert (first["maker_owner"], first["taker_owner"]) == ("alice", "bob")
    assert len(table.rows) == 3


def test_my_fills_have_my_side_and_role():
    table = export.fills(traded_peer().exchange, "alice")
    rows = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
    assert [(r["side"], r["role"], r["price"], r["counterparty"]) for r in rows] == [
        ("sell", "maker", "100", "bob"),
        ("buy", "taker", "100.2", "carol"),
    ]
    assert rows[0]["time"] < rows[1]["time"]


def test_an_export_is_written_with_a_header_or_refused_with_the_reason(tmp_path: Path):
    table = export.trades(traded_peer().exchange, BTC)
    path = tmp_path / "t.csv"
    assert export.write(table, path) == 3
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(export.TRADE_COLUMNS) and rows[1][4] == "100"
    with pytest.raises(export.ExportError, match=r"cannot write .*nowhere.*: No such file"):
        export.write(table, tmp_path / "nowhere" / "t.csv")
    assert export.default_name("trades", BTC, CLOCK) == "dex-trades-BTC-USD-20251125-120000.csv"
    assert export.default_name("fills", None, CLOCK) == "dex-fills-20251125-120000.csv"


# ---------------------------------------------------------------------- on screen


async def test_trades_from_before_the_app_started_show_their_consensus_time():
    clock = Clock(CLOCK_MS - 5 * MINUTE)
    peer = local_peer(clock=clock)
    trade(peer, 1000, 10, 1)  # at 11:55, before the app
    clock.ms = CLOCK_MS
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        tape = app.query_one(TradeTape)
        await settle(pilot, lambda: len(tape.trades) == 1)
        assert tape.trades[0].time == CLOCK_MS - 5 * MINUTE
        assert "11:55:00" in "".join(s.text for s in tape.render_line(1))


async def test_the_chart_draws_candles_and_the_keys_change_the_interval():
    clock = Clock(CLOCK_MS - 90 * MINUTE)
    peer = local_peer(clock=clock)
    for n in range(90):  # one trade a minute for an hour and a half, climbing
        clock.ms = CLOCK_MS - (90 - n) * MINUTE
        trade(peer, 1000 + n, 10, n)
    clock.ms = CLOCK_MS
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(PriceChart)
        panel = app.query_one("#chart-panel")
        await settle(pilot, lambda: chart.candles > 20, what="1m candles")
        assert chart.candles == min(90, chart.size.width - len("108.9") - 2)
        assert "1m candles" in str(panel.border_title)
        await pilot.press("2")
        await settle(pilot, lambda: chart.candles == 18, what="5m candles")  # 90 min / 5
        assert "5m candles" in str(panel.border_title)
        await pilot.press("3")
        await settle(pilot, lambda: chart.candles == 2, what="1h candles")  # 10:30 to 11:59
        assert text(chart.rows[-1]).split() == ["10:00"]  # 11:00 is in the same 6 h
        await pilot.press("1")
        await settle(pilot, lambda: "1m candles" in str(panel.border_title))


async def test_the_chart_asks_for_candles_only_when_they_changed():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(PriceChart)
        await settle(pilot, lambda: chart.rows != (), what="the chart drawn at its size")
        asked = []
        candles = app.desk.candles
        app.desk.candles = lambda limit: asked.append(limit) or candles(limit)  # type: ignore[method-assign]
        peer = app.peer
        peer.apply(Submit("alice", BTC, "buy", "limit", 990, 100, client_id="no-trade"))
        app.flush_market()  # the book moved, nothing traded: the chart stays as drawn
        assert asked == []
        peer.apply(Submit("carol", BTC, "sell", "limit", 1000, 100, "ioc", client_id="t"))
        app.flush_market()
        assert len(asked) == 1
        app.flush_market()
        assert len(asked) == 1
        await settle(pilot, lambda: chart.candles == 1)


async def test_the_header_shows_the_ticker_of_the_market_on_screen():
    app = make_app(book_peer())
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one("HeaderTitle")

        def shown() -> str:
            return str(header.content)

        await settle(pilot, lambda: shown().startswith("BTC/USD  no trades yet  —  trader alice"))
        app.peer.apply(Submit("carol", BTC, "sell", "limit", 1000, 300, "ioc", client_id="t"))
        await settle(pilot, lambda: shown().startswith("BTC/USD 100.0  24h ±0.0 (±0.00%)"))
        assert "H 100.0  L 100.0  V 0.300  —  trader alice (key" in shown()
        assert app.ticker.plain in shown()
        await pilot.press("m")
        await settle(pilot, lambda: shown().startswith("ETH/USD  no trades yet"))


async def export_to(pilot, path: Path, command: str | None = None) -> None:
    """Export from the palette's ``command`` (or straight from the action: fills) to ``path``."""
    app = pilot.app
    if command is None:
        app.export("fills")
    else:
        await run_from_palette(pilot, command)
    await settle(pilot, lambda: isinstance(app.screen, ExportScreen)
                 and bool(app.screen.query("#export-path")), what="the export dialog")  # fmt: skip
    field = app.screen.query_one("#export-path")
    assert field.value.startswith("dex-") and field.value.endswith(".csv")  # the default
    field.value = str(path)
    await pilot.press("enter")
    await settle(pilot, lambda: not isinstance(app.screen, ExportScreen))


async def test_both_exports_write_csv_from_the_palette_and_say_where(tmp_path: Path):
    app = make_app(traded_peer())
    async with app.run_test(size=SIZE) as pilot:
        trades_csv, fills_csv = tmp_path / "trades.csv", tmp_path / "fills.csv"
        await export_to(pilot, trades_csv, "Export trades (BTC")
        await settle(pilot, lambda: any(str(trades_csv) in n.message for n in app._notifications))
        assert trades_csv.read_text().splitlines()[0].startswith("time,time_ms,trade_id")
        assert len(trades_csv.read_text().splitlines()) == 4
        await export_to(pilot, fills_csv, "my fills")
        await settle(pilot, lambda: fills_csv.exists())
        assert len(fills_csv.read_text().splitlines()) == 3  # header and alice's two fills


async def test_an_export_that_cannot_be_written_is_an_error_notification(tmp_path: Path):
    app = make_app(traded_peer())
    async with app.run_test(size=SIZE) as pilot:
        await export_to(pilot, tmp_path / "no" / "such" / "f.csv")
        await settle(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        [failed] = [n for n in app._notifications if n.severity == "error"]
        assert "cannot write" in failed.message and "No such file" in failed.message
        assert app.is_running
