"""Decimal strings at the edge: Market.price_units/qty_units (engine.units.to_units) refuse
anything off the tick or lot, malformed or out of range, and never round."""

from decimal import Decimal

import pytest
from engine_helpers import BTC, Driver
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import InvalidInput, Market
from engine.units import from_units, to_units


@pytest.fixture
def market() -> Market:
    m = Driver(BTC).ex.market(BTC)  # tick 0.01, lot 0.001
    assert m is not None
    return m


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("100.25", 10025),
        ("100", 10000),
        ("0.01", 1),
        ("100.250", 10025),
        ("0100.25", 10025),
        ("10000000000000.00", 10**15),
        (100, 10000),
        (1, 100),
    ],
)
def test_price_units_valid(market, text, ticks):
    assert market.price_units(text) == ticks


def test_qty_units_and_texts(market):
    assert market.qty_units("1.5") == 1500
    assert market.qty_units("0.001") == 1
    assert market.qty_units(2) == 2000
    assert market.price_text(10025) == "100.25"
    assert market.price_text(10000) == "100"
    assert market.qty_text(1500) == "1.5"
    assert market.qty_text(1) == "0.001"


def test_to_units_with_other_steps():
    assert to_units("5", Decimal("0.5"), "f") == 10
    assert to_units("2500", Decimal("25"), "f") == 100
    with pytest.raises(InvalidInput):
        to_units("2510", Decimal("25"), "f")


OFF_TICK = ["100.255", "100.001", "0.001", "0.005", "100.2500000000000000000000000001",
            "99.999999999999999999999999999999"]  # fmt: skip
OFF_LOT = ["0.0001", "1.0005", "1.0000000000000000000001", "0.0009999999999999999"]


@pytest.mark.parametrize("value", OFF_TICK)
def test_off_tick_price_is_refused_not_rounded(market, value):
    with pytest.raises(InvalidInput) as info:
        market.price_units(value)
    assert info.value.field == "price"


@pytest.mark.parametrize("value", OFF_LOT)
def test_off_lot_qty_is_refused_not_rounded(market, value):
    with pytest.raises(InvalidInput) as info:
        market.qty_units(value)
    assert info.value.field == "qty"


BAD_AMOUNTS = [
    # off both steps
    "0.0001",
    "0.00000000000000000000000000000001",
    # zero and negatives
    "0",
    "0.00",
    "-0",
    "-0.01",
    "-1",
    0,
    -1,
    -(10**6),
    # not finite
    "NaN",
    "nan",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    # absurd magnitudes
    "1e999",
    "1e-999",
    "1" + "0" * 25,
    "9" * 40,
    "9" * 41,
    "0." + "0" * 30 + "1",
    10**20,
    10**40,
    # empty and whitespace
    "",
    " ",
    "\t\n",
    "1 0",
    "1. 5",
    # not a string or an integer
    1.5,
    100.0,
    float("nan"),
    float("inf"),
    None,
    True,
    False,
    [],
    ["1"],
    {},
    b"100",
    Decimal("100"),
    object(),
    # garbage
    "abc",
    "1.2.3",
    "0x10",
    "1,5",
    "--1",
    "+-1",
    "1e",
    "e1",
    "$5",
    "5$",
    "\u0661\u0662\u0663.\u0664\u0665x",
    "\x00",
    "1\x00",
]


@pytest.mark.parametrize("value", BAD_AMOUNTS)
@pytest.mark.parametrize("kind", ["price", "qty"])
def test_bad_amounts_are_invalid_input_naming_the_field(market, kind, value):
    convert = market.price_units if kind == "price" else market.qty_units
    with pytest.raises(InvalidInput) as info:
        convert(value)
    assert info.value.field == kind
    with pytest.raises(InvalidInput) as info:
        convert(value, "limit_price")
    assert info.value.field == "limit_price"


def test_max_units_boundary(market):
    assert market.qty_units("1000000000000") == 10**15  # 10**15 lots of 0.001
    with pytest.raises(InvalidInput) as info:
        market.qty_units("1000000000000.001")
    assert info.value.field == "qty"


def test_underscores_are_refused(market):
    with pytest.raises(InvalidInput):
        market.price_units("1_000")


@pytest.mark.parametrize("text", ["\u0661\u0662", "\uff11\uff12"])
def test_non_ascii_digits_are_refused(market, text):
    with pytest.raises(InvalidInput):
        market.price_units(text)


def test_gigantic_int_is_invalid_input(market):
    with pytest.raises(InvalidInput):
        market.price_units(10**5000)


def test_round_trip_of_largest_units_with_largest_step():
    step = Decimal("1000000")
    assert to_units(from_units(10**15, step), step, "price") == 10**15


# ---------------------------------------------------------------------- properties


@st.composite
def steps(draw: st.DrawFn) -> Decimal:
    """Steps a market may have: a plain decimal in [1e-12, 1e6]."""
    mantissa = draw(st.integers(1, 10**6))
    value = Decimal(mantissa).scaleb(draw(st.integers(-12, 0)))
    return min(value, Decimal(10**6))


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**15), steps())
def test_from_units_to_units_round_trip(units, step):
    text = from_units(units, step)
    assert "e" not in text.lower()
    assert Decimal(text) == units * step
    assert to_units(text, step, "price") == units


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**15))
def test_market_text_round_trip(units):
    market = Market(BTC, "BTC", "USD", "0.01", "0.001", 10)
    assert market.price_units(market.price_text(units)) == units
    assert market.qty_units(market.qty_text(units)) == units


decimal_like = st.from_regex(
    r"\A[ +-]?[0-9]{0,20}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,4})?\s?\Z", fullmatch=True
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=50), decimal_like), steps())
def test_arbitrary_text_is_converted_exactly_or_refused(text, step):
    try:
        units = to_units(text, step, "amount")
    except InvalidInput as exc:
        assert exc.field == "amount"
        return
    assert isinstance(units, int) and not isinstance(units, bool)
    assert 1 <= units <= 10**15
    assert Decimal(text.strip()) == units * step  # exact: nothing was rounded


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.floats(),
        st.binary(max_size=10),
        st.lists(st.integers(), max_size=2),
        st.integers(-(10**50), 10**50),
    )
)
def test_arbitrary_values_are_converted_or_refused(value):
    market = Market(BTC, "BTC", "USD", "0.01", "0.001", 10)
    try:
        units = market.price_units(value)
    except InvalidInput as exc:
        assert exc.field == "price"
        return
    assert type(value) is int
    assert units == value * 100
