"""The scenario language (spec/scenario.md and its extensions in docs/tui.md: gtd, stops, an
amended trigger): every line form, every error at its exact place, the quick order line,
loading files, and hypothesis properties (no crash on any text, a render/parse round trip,
error positions inside the text)."""

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from dex_tui.scenario import (
    AmendStep,
    CancelAllStep,
    CancelStep,
    Expiry,
    OrderStep,
    ScenarioError,
    SleepStep,
    format_step,
    load_scenario,
    parse_line,
    parse_scenario,
)

BTC, ETH = "BTC/USD", "ETH/USD"


def make_markets() -> dict[str, engine.Market]:
    """The markets every cluster starts with, built by a real exchange."""
    exchange = engine.Exchange()
    for index, command in enumerate(engine.FOUNDING_MARKETS, 1):
        exchange.apply(command, index)
    return exchange.markets


MARKETS = make_markets()


def parse(text: str, default: str = BTC) -> tuple:
    return parse_scenario(text, MARKETS, default, "t.txt").steps


def one(text: str, default: str = BTC):
    steps = parse(text, default)
    assert len(steps) == 1
    return steps[0]


def error(text: str, default: str = BTC) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, MARKETS, default, "t.txt")
    return caught.value


def limit(side, price, qty, *, line=1, market=BTC, label=None, tif="gtc", post=False,
          trigger=None, expiry=None):  # fmt: skip
    kind = "limit" if trigger is None else "stop_limit"
    return OrderStep(line, market, label, side, kind, price, qty, tif, post, trigger, expiry)


def market_order(side, qty, price=None, *, line=1, market=BTC, label=None, trigger=None):
    kind = "market" if trigger is None else "stop"
    return OrderStep(line, market, label, side, kind, price, qty, "ioc", False, trigger)


def after(ms: int) -> Expiry:
    return Expiry(after_ms=ms)


# ---------------------------------------------------------------------------- line forms


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("buy 1.5 @ 30000.5", limit("buy", 300005, 1500)),
        ("sell 0.25 @ 30001 ioc", limit("sell", 300010, 250, tif="ioc")),
        ("sell 0.25 @ 30001 fok", limit("sell", 300010, 250, tif="fok")),
        ("sell 0.25 @ 30001 gtc", limit("sell", 300010, 250)),
        ("buy 2 @ 29999 post", limit("buy", 299990, 2000, post=True)),
        ("buy 2 @ 29999 gtc post", limit("buy", 299990, 2000, post=True)),
        ("buy 2 @ 29999 post gtc", limit("buy", 299990, 2000, post=True)),
        ("sell 3 market", market_order("sell", 3000)),
        ("buy 1 market max 30010", market_order("buy", 1000, 300100)),
        ("sell 1 market min 29990", market_order("sell", 1000, 299900)),
        ("sell 1 market max 29990", market_order("sell", 1000, 299900)),
        ("b 0.001 @ 0.1", limit("buy", 1, 1)),
        ("s 0.001 @ 0.1", limit("sell", 1, 1)),
        ("buy 1.5@30000.5", limit("buy", 300005, 1500)),
        ("o7: buy 1 @ 29990", limit("buy", 299900, 1000, label="o7")),
        ("o7 : buy 1 @ 29990", limit("buy", 299900, 1000, label="o7")),
        ("o7:buy 1 @ 29990", limit("buy", 299900, 1000, label="o7")),
        ("Order_2: s 1 market", market_order("sell", 1000, label="Order_2")),
        ("cancel all", CancelAllStep(1, BTC)),
        ("sleep 250ms", SleepStep(1, 0.25)),
        ("sleep 2s", SleepStep(1, 2.0)),
        ("sleep 1.5s", SleepStep(1, 1.5)),
        ("sleep 0ms", SleepStep(1, 0.0)),
        # good-till-date and stops (docs/tui.md)
        ("buy 1 @ 2000 gtd 30s", limit("buy", 20000, 1000, tif="gtd", expiry=after(30_000))),
        ("buy 1 @ 2000 GTD 5M", limit("buy", 20000, 1000, tif="gtd", expiry=after(300_000))),
        (
            "buy 1 @ 2000 gtd 2h post",
            limit("buy", 20000, 1000, tif="gtd", post=True, expiry=after(7_200_000)),
        ),
        ("buy 1 @ 2000 gtd 250ms", limit("buy", 20000, 1000, tif="gtd", expiry=after(250))),
        (
            "buy 1 @ 2000 gtd 14:30",
            limit("buy", 20000, 1000, tif="gtd", expiry=Expiry(at=(14, 30, 0))),
        ),
        (
            "buy 1 @ 2000 gtd 9:05:30",
            limit("buy", 20000, 1000, tif="gtd", expiry=Expiry(at=(9, 5, 30))),
        ),
        ("sell 1 stop 1990", market_order("sell", 1000, trigger=19900)),
        ("sell 1 STOP 1990 min 1980", market_order("sell", 1000, 19800, trigger=19900)),
        ("buy 1 stop 2010 max 2020", market_order("buy", 1000, 20200, trigger=20100)),
        ("sell 1 @ 1985 stop 1990", limit("sell", 19850, 1000, trigger=19900)),
        ("sell 1 @ 1985 stop 1990 ioc", limit("sell", 19850, 1000, tif="ioc", trigger=19900)),
        (
            "b 1 @ 2 post stop 3 gtd 1h",
            limit("buy", 20, 1000, post=True, trigger=30, tif="gtd", expiry=after(3_600_000)),
        ),
    ],
)
def test_line_forms(text, step):
    assert one(text) == step


def test_amend_and_cancel_forms():
    steps = parse(
        "o7: buy 1 @ 29990\n"
        "amend o7 qty 0.5\n"
        "amend o7 price 29991\n"
        "amend o7 qty 0.5 price 29991\n"
        "amend o7 price 29991 qty 0.5\n"
        "cancel o7\n"
    )
    assert steps[1:] == (
        AmendStep(2, BTC, "o7", 500, None),
        AmendStep(3, BTC, "o7", None, 299910),
        AmendStep(4, BTC, "o7", 500, 299910),
        AmendStep(5, BTC, "o7", 500, 299910),
        CancelStep(6, BTC, "o7"),
    )


def test_comments_blank_lines_and_line_numbers():
    steps = parse(
        "# a scenario\n"
        "\n"
        "   # indented comment\n"
        "buy 1 @ 30000   # trailing comment: sell 5 market\n"
        "\t\n"
        "sell 1 @ 30001#tight comment\n"
    )
    assert steps == (limit("buy", 300000, 1000, line=4), limit("sell", 300010, 1000, line=6))


def test_windows_line_ends_and_empty_text():
    assert parse("buy 1 @ 1\r\nsell 1 @ 2\r\n") == (
        limit("buy", 10, 1000),
        limit("sell", 20, 1000, line=2),
    )
    assert parse("") == ()
    assert parse("# only a comment\n\n") == ()


def test_keywords_and_symbols_are_case_insensitive():
    steps = parse(
        "MARKET eth/usd\n"
        "O1: BUY 1 @ 2000 IOC\n"
        "X: B 1 @ 2000 Post\n"
        "S 1 MARKET MIN 1990\n"
        "AMEND X QTY 0.5 PRICE 1999\n"
        "Cancel X\n"
        "CANCEL ALL\n"
        "SLEEP 20MS\n"
    )
    assert steps == (
        limit("buy", 200000, 100, line=2, market=ETH, label="O1", tif="ioc"),
        limit("buy", 200000, 100, line=3, market=ETH, label="X", post=True),
        market_order("sell", 100, 199000, line=4, market=ETH),
        AmendStep(5, ETH, "X", 50, 199900),
        CancelStep(6, ETH, "X"),
        CancelAllStep(7, ETH),
        SleepStep(8, 0.02),
    )


def test_market_switching_and_default_market():
    steps = parse(
        "buy 1 @ 2000\n"  # the default market
        "market ETH/USD\n"
        "o1: buy 1 @ 2000\n"
        "cancel all\n"
        "market BTC/USD\n"
        "amend o1 price 2000.01\n"  # the label's market (ETH, tick 0.01), not the current one
        "cancel o1\n"
        "cancel all\n",
        default=ETH,
    )
    assert steps == (
        limit("buy", 200000, 100, market=ETH),
        limit("buy", 200000, 100, line=3, market=ETH, label="o1"),
        CancelAllStep(4, ETH),
        AmendStep(6, ETH, "o1", None, 200001),
        CancelStep(7, ETH, "o1"),
        CancelAllStep(8, BTC),
    )
    assert one("buy 1 @ 2000", default="eth/usd").market == ETH


def test_scenario_name():
    assert parse_scenario("", MARKETS, BTC, "scenarios/crossing_book.txt").name == "crossing_book"
    assert parse_scenario("", MARKETS, BTC).name == "<scenario>"


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        # unknown words
        ("bye 1 @ 2", 1, 1, "unknown word 'bye': expected buy, sell, b, s, market"),
        ("o7 buy 1 @ 2", 1, 1, "or a label followed by ':'"),
        (": buy 1 @ 2", 1, 1, "unknown word ':'"),
        ("buy 1 at 2", 1, 7, "unexpected 'at': expected '@ PRICE' for a limit order, 'market'"),
        ("buy 1", 1, 6, "expected '@ PRICE' for a limit order, 'market' or 'stop PRICE'"),
        ("buy 1 @ 2 now", 1, 11, "expected gtc, ioc, fok, gtd EXPIRY, post, stop PRICE or end"),
        # good-till-date
        ("buy 1 @ 2 gtd", 1, 14, "expected a duration such as 30s, 5m or 2h, or a local time"),
        ("buy 1 @ 2 gtd soon", 1, 15, "bad expiry after 'gtd': expected a duration such as 30s"),
        ("buy 1 @ 2 gtd 1.5m", 1, 15, "bad expiry after 'gtd': expected a duration"),
        ("buy 1 @ 2 gtd 0s", 1, 15, "0s is no time from now"),
        ("buy 1 @ 2 gtd 367d", 1, 15, "bad expiry after 'gtd'"),
        ("buy 1 @ 2 gtd 9000h", 1, 15, "9000h is more than 366 days: use gtc"),
        ("buy 1 @ 2 gtd 24:00", 1, 15, "24:00 is not a time of day"),
        ("buy 1 @ 2 gtd 12:60", 1, 15, "12:60 is not a time of day"),
        ("buy 1 @ 2 gtd 12: 30", 1, 15, "bad expiry after 'gtd'"),
        ("buy 1 @ 2 gtd 5m gtc", 1, 18, "time in force given twice (gtd, then gtc)"),
        ("buy 1 @ 2 ioc gtd 5m", 1, 15, "time in force given twice (ioc, then gtd)"),
        ("buy 1 @ 2 gtd 5m 6m", 1, 18, "unexpected '6m': expected gtc, ioc, fok, gtd EXPIRY"),
        ("buy 1 market gtd 5m", 1, 14, "a market order takes no gtd (it never rests)"),
        # stops
        ("sell 1 stop", 1, 12, "expected a trigger price after 'stop' (on the tick 0.1"),
        (
            "sell 1 stop 19.95",
            1,
            13,
            "trigger price after 'stop' (on the tick 0.1 of BTC/USD): "
            "trigger: 19.95 is not a multiple",
        ),
        ("sell 1 stop 1990 gtd 1h", 1, 18, "a stop order takes no gtd (it becomes a market order"),
        ("sell 1 stop 1990 ioc", 1, 18, "a stop order takes no ioc"),
        ("sell 1 stop 1990 stop 1980", 1, 18, "a stop order has one trigger price"),
        ("buy 1 stop 1990 min 1980", 1, 17, "a buy stop order has no 'min': expected max PRICE"),
        ("sell 1 @ 1985 stop 1990 stop 1991", 1, 25, "stop given twice"),
        ("sell 1 @ 1985 stop", 1, 19, "expected a trigger price after 'stop'"),
        # numbers
        ("buy", 1, 4, "expected a quantity after 'buy' (in lots of 0.001 on BTC/USD)"),
        ("buy x @ 2", 1, 5, "expected a quantity after 'buy' (in lots of 0.001 on BTC/USD): qty:"),
        ("buy 1 @", 1, 8, "expected a price after '@' (on the tick 0.1 of BTC/USD)"),
        ("buy 1 @ @", 1, 9, "expected a price after '@'"),
        ("buy 1 @ 2..5", 1, 9, "price: not a decimal number"),
        ("buy 1 @ 1e999", 1, 9, "price: out of range"),
        ("buy 1 @ 30000.05", 1, 9, "price: 30000.05 is not a multiple of 0.1"),
        ("buy 1.0005 @ 30000", 1, 5, "qty: 1.0005 is not a multiple of 0.001"),
        ("buy 0 @ 30000", 1, 5, "qty: must be greater than zero"),
        ("sell -1 @ 30000", 1, 6, "qty: must be greater than zero"),
        ("buy 1 @ 0", 1, 9, "price: must be greater than zero"),
        ("buy 1 @ -3", 1, 9, "price: must be greater than zero"),
        ("buy 1 market max 0.05", 1, 18, "protection price after 'max' (on the tick 0.1"),
        ("market ETH/USD\nbuy 0.005 @ 2000", 2, 5, "lots of 0.01 on ETH/USD): qty: 0.005"),
        ("market ETH/USD\nbuy 1 @ 2000.001", 2, 9, "tick 0.01 of ETH/USD): price: 2000.001"),
        # time in force, post-only, market orders
        ("buy 1 @ 2 post ioc", 1, 16, "post-only cannot be ioc: a post-only order must rest"),
        ("buy 1 @ 2 fok post", 1, 15, "post-only cannot be fok"),
        ("buy 1 @ 2 ioc fok", 1, 15, "time in force given twice (ioc, then fok)"),
        ("buy 1 @ 2 post post", 1, 16, "post given twice"),
        ("sell 1 market ioc", 1, 15, "a market order takes no ioc (it never rests)"),
        ("sell 1 market post", 1, 15, "a market order takes no post"),
        ("buy 1 market min 5", 1, 14, "a buy market order has no 'min': expected max PRICE"),
        ("sell 1 market 5", 1, 15, "unexpected '5': expected min PRICE (the least it takes)"),
        ("buy 1 market max", 1, 17, "expected a protection price after 'max'"),
        ("buy 1 market max 5 now", 1, 20, "unexpected 'now': expected end of line"),
        # markets
        ("market XRP/USD", 1, 8, "unknown market 'XRP/USD': expected a market symbol (BTC/USD, "),
        ("market", 1, 7, "expected a market symbol (BTC/USD, ETH/USD) after 'market'"),
        ("market ETH/USD BTC/USD", 1, 16, "unexpected 'BTC/USD': expected end of line"),
        # labels
        ("amend o7 qty 1", 1, 7, "unknown label 'o7': expected a label defined on an earlier line"),
        ("cancel o7", 1, 8, "unknown label 'o7'"),
        ("o7: buy 1 @ 2\ncancel O7", 2, 8, "labels are case-sensitive: did you mean o7?"),
        ("cancel o7\no7: buy 1 @ 2", 1, 8, "label o7 is used before it is defined (on line 2)"),
        ("o7: buy 1 @ 2\no7: sell 1 @ 3", 2, 1, "label o7 is already defined on line 1"),
        ("7o: buy 1 @ 2", 1, 1, "bad label '7o': expected a letter followed by letters, digits"),
        ("o-7: buy 1 @ 2", 1, 1, "bad label 'o-7'"),
        ("all: buy 1 @ 2", 1, 1, "'all' is a keyword: expected a label that is not one"),
        ("o7: cancel all", 1, 5, "expected an order (buy, sell, b or s) after the label 'o7:'"),
        ("o7:", 1, 4, "expected an order (buy, sell, b or s) after the label 'o7:'"),
        ("o7: sell 1 market\ncancel o7", 2, 8, "names a market order (line 1), which never rests"),
        ("o7: sell 1 @ 2 ioc\namend o7 qty 1", 2, 7, "names an ioc order (line 1)"),
        ("o7: sell 1 @ 2 fok\ncancel o7", 2, 8, "names a fok order (line 1), which never rests"),
        # amend, cancel, sleep
        ("o7: buy 1 @ 2\namend o7", 2, 9, "expected qty QTY and/or price PRICE after 'o7'"),
        ("o7: buy 1 @ 2 stop 3\namend o7", 2, 9, "qty QTY, price PRICE and/or trigger TRIGGER"),
        (
            "o7: buy 1 @ 2\namend o7 trigger 3",
            2,
            10,
            "names a gtc order (line 1), which has no trigger",
        ),
        ("o7: buy 1 stop 3\namend o7 trigger 2.05", 2, 18, "trigger: 2.05 is not a multiple"),
        ("o7: buy 1 stop 3\namend o7 trigger 4 trigger 5", 2, 20, "trigger given twice"),
        ("o7: buy 1 @ 2\namend o7 size 2", 2, 10, "unexpected 'size': expected qty QTY, price"),
        ("o7: buy 1 @ 2\namend o7 qty 2 qty 3", 2, 16, "qty given twice"),
        ("o7: buy 1 @ 2\namend o7 qty", 2, 13, "expected a quantity after 'qty'"),
        ("o7: buy 1 @ 2\namend o7 price 2.05", 2, 16, "price: 2.05 is not a multiple of 0.1"),
        ("amend", 1, 6, "expected a label after 'amend'"),
        ("cancel", 1, 7, "expected a label after 'cancel' or 'all'"),
        ("cancel all now", 1, 12, "unexpected 'now': expected end of line after 'cancel all'"),
        ("o7: buy 1 @ 2\ncancel o7 now", 2, 11, "unexpected 'now': expected end of line"),
        ("sleep", 1, 6, "expected a duration such as 250ms or 2s"),
        ("sleep 5", 1, 7, "expected a duration such as 250ms or 2s"),
        ("sleep 2h", 1, 7, "expected a duration such as 250ms or 2s"),
        ("sleep -1s", 1, 7, "expected a duration"),
        ("sleep 2 s", 1, 7, "expected a duration"),
        ("sleep 3601s", 1, 7, "expected a duration of at most 1 hour"),
        ("sleep 1s 2s", 1, 10, "unexpected '2s': expected end of line after the duration"),
    ],
)
def test_errors(text, line, column, expected):
    exc = error(text)
    assert (exc.line, exc.column) == (line, column), str(exc)
    assert expected in exc.message
    assert str(exc) == f"t.txt:{line}:{column}: {exc.message}"
    assert exc.filename == "t.txt"


def test_unknown_default_market_is_reported_where_it_is_needed():
    assert parse("market ETH/USD\nbuy 1 @ 2", default="DOGE/USD")[0].market == ETH
    exc = error("# start\n  sell 1 @ 2", default="DOGE/USD")
    assert (exc.line, exc.column) == (2, 3)
    assert "no market selected: the default market 'DOGE/USD' does not exist" in exc.message
    assert "add a line 'market SYMBOL'" in exc.message


def test_error_in_the_last_line_fails_the_whole_file():
    good = "".join(f"buy 1 @ {30000 + i}\n" for i in range(50))
    exc = error(good + "sell 1 @ 30000.05\n")
    assert (exc.line, exc.column) == (51, 10)


def test_first_error_wins():
    exc = error("buy 1 @ 1\nfrob\nsell 0 @ 1\n")
    assert (exc.line, exc.column) == (2, 1)


def test_long_and_unprintable_words_are_quoted_safely():
    exc = error("x" * 500)
    assert "'" + "x" * 30 + "...'" in exc.message
    assert len(exc.message) < 200
    exc = error("\x1b[31m")
    assert "'\\x1b[31m'" in exc.message


# ---------------------------------------------------------------------------- quick line


def test_quick_line_orders_and_cancel_all():
    assert parse_line("b 1 @ 2000.01", MARKETS, ETH) == limit("buy", 200001, 100, market=ETH)
    assert parse_line("sell 1 market max 30000", MARKETS, BTC) == market_order("sell", 1000, 300000)
    assert parse_line("cancel all  # everything", MARKETS, BTC) == CancelAllStep(1, BTC)
    assert parse_line("buy 1 @ 2\n", MARKETS, BTC) == limit("buy", 20, 1000)


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("market ETH/USD", 1, "expected an order such as 'buy 0.5 @ 2000', or 'cancel all'"),
        ("", 1, "expected an order such as 'buy 0.5 @ 2000'"),
        ("# nothing", 1, "expected an order"),
        ("o7: buy 1 @ 2", 1, "labels are for scenario files"),
        ("cancel o7", 8, "expected 'all' after 'cancel': labels are for scenario files"),
        ("cancel", 7, "expected 'all' after 'cancel'"),
        ("amend o7 qty 1", 1, "'amend' belongs in a scenario file"),
        ("sleep 1s", 1, "'sleep' belongs in a scenario file"),
        ("buy 1 @ 2.05", 9, "price: 2.05 is not a multiple of 0.1"),
        ("buy 1 @ 2\nsell 1 @ 3", 10, "expected a single line"),
    ],
)
def test_quick_line_errors(text, column, expected):
    with pytest.raises(ScenarioError) as caught:
        parse_line(text, MARKETS, BTC)
    exc = caught.value
    assert (exc.filename, exc.line, exc.column) == ("<input>", 1, column), str(exc)
    assert expected in exc.message


# ---------------------------------------------------------------------------- files


def test_load_scenario(tmp_path: Path):
    path = tmp_path / "walk.txt"
    path.write_bytes("\ufeff# BOM and non-ASCII comment: é\nbuy 1 @ 2\n".encode())
    scenario = load_scenario(path, MARKETS, BTC)
    assert scenario.name == "walk"
    assert scenario.steps == (limit("buy", 20, 1000, line=2),)


def test_load_scenario_reports_errors_with_the_path(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text("buy 1 @ 2\nsell 1 @ x\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, MARKETS, BTC)
    assert str(caught.value).startswith(f"{path}:2:10: expected a price after '@'")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the file: no such file"),
        (b"buy 1 @ 2\n\xff\xfe\n", "not UTF-8 text: undecodable byte 0xff on line 2"),
        (b"#" * (1 << 20) + b"\n", "file too large: a scenario is at most 1 MiB"),
    ],
)
def test_load_scenario_unreadable(tmp_path: Path, content, expected):
    path = tmp_path / "s.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, MARKETS, BTC)
    exc = caught.value
    assert (exc.filename, exc.line, exc.column, exc.message) == (str(path), 1, 1, expected)


def test_load_scenario_directory(tmp_path: Path):
    with pytest.raises(ScenarioError, match="cannot read the file: it is a directory"):
        load_scenario(tmp_path, MARKETS, BTC)


# ---------------------------------------------------------------------------- properties


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_fails_cleanly(text):
    with contextlib.suppress(ScenarioError):
        parse_scenario(text, MARKETS, BTC)


WORDS = ["buy", "sell", "b", "s", "@", ":", "market", "max", "min", "ioc", "fok", "gtc",
         "post", "amend", "cancel", "all", "qty", "price", "sleep", "o1", "o2", "1", "0.5",
         "30000.1", "2000.01", "-1", "0", "250ms", "2s", "BTC/USD", "eth/usd", "#", "\n",
         "\t", " ", "\r", "gtd", "30s", "5m", "14:30", "9:05:30", "24:00", "stop",
         "trigger"]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join))
def test_errors_point_inside_the_text(text):
    """Near-miss texts (grammar words in random order) fail at a position inside the text."""
    try:
        parse_scenario(text, MARKETS, BTC)
    except ScenarioError as exc:
        lines = text.split("\n")
        assert 1 <= exc.line <= len(lines)
        assert 1 <= exc.column <= len(lines[exc.line - 1].removesuffix("\r")) + 1
        assert exc.message


@st.composite
def scenarios(draw) -> tuple[str, list, str]:
    """A random valid scenario: its text, the steps it must parse to, its default market."""
    lines: list[str] = []
    steps: list = []
    current = default = draw(st.sampled_from([BTC, ETH]))
    resting: list[tuple[str, str, bool]] = []  # (label, market, is a stop) of resting orders
    for number in range(draw(st.integers(0, 25))):
        kind = draw(
            st.sampled_from(["market", "order", "order", "amend", "cancel", "all", "sleep"])
        )
        line = len(lines) + 1
        step = None
        if kind == "market":
            current = draw(st.sampled_from([BTC, ETH]))
            lines.append(f"market {draw(st.sampled_from([current, current.lower()]))}")
            continue
        if kind == "order":
            step = draw(order_steps(line, current, f"L{number}"))
            stop = step.trigger is not None
            if step.label is not None and (stop or step.tif in ("gtc", "gtd")):
                resting.append((step.label, current, stop))
        elif kind in ("amend", "cancel") and resting:
            label, market, stop = draw(st.sampled_from(resting))
            if kind == "cancel":
                step = CancelStep(line, market, label)
            else:
                fields = [draw(st.none() | UNITS) for _ in range(3 if stop else 2)]
                if not any(fields):
                    fields[0] = draw(UNITS)
                step = AmendStep(line, market, label, *fields)
        elif kind == "all":
            step = CancelAllStep(line, current)
        elif kind == "sleep":
            step = SleepStep(line, draw(SECONDS))
        if step is not None:
            lines.append(format_step(step, MARKETS) + draw(st.sampled_from(["", "  # note"])))
            steps.append(step)
    return "\n".join(lines), steps, default


UNITS = st.integers(1, 10**15)
SECONDS = (
    st.integers(0, 3_600_000).map(lambda millis: millis / 1000)
    | st.integers(0, 3600).map(float)
    | st.floats(0, 3600)
)


EXPIRIES = st.builds(
    lambda n, unit: Expiry(after_ms=n * unit),
    st.integers(1, 3600), st.sampled_from([1, 1000, 60_000, 3_600_000]),
) | st.builds(lambda h, m, s: Expiry(at=(h, m, s)), st.integers(0, 23), st.integers(0, 59),
              st.integers(0, 59))  # fmt: skip


@st.composite
def order_steps(draw, line: int, market: str, label: str) -> OrderStep:
    named = label if draw(st.booleans()) else None
    side = draw(st.sampled_from(["buy", "sell"]))
    qty = draw(UNITS)
    trigger = draw(st.none() | UNITS)
    if draw(st.booleans()):
        kind = "market" if trigger is None else "stop"
        return OrderStep(line, market, named, side, kind, draw(st.none() | UNITS), qty, "ioc",
                         False, trigger)  # fmt: skip
    tif = draw(st.sampled_from(["gtc", "ioc", "fok", "gtd"]))
    post = tif in ("gtc", "gtd") and draw(st.booleans())
    expiry = draw(EXPIRIES) if tif == "gtd" else None
    kind = "limit" if trigger is None else "stop_limit"
    return OrderStep(line, market, named, side, kind, draw(UNITS), qty, tif, post, trigger,
                     expiry)  # fmt: skip


@settings(max_examples=300)
@given(scenarios())
def test_round_trip(case):
    text, steps, default = case
    assert list(parse_scenario(text, MARKETS, default).steps) == steps
