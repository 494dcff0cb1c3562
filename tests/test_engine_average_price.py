"""Average fill prices (``Market.avg_price_text``, what the RPC and the screen show): plain
decimal strings, exact when they can be and rounded half-even to the tick's places + 8 when
they cannot."""

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import Market
from engine.units import AVG_EXTRA_PLACES

PLAIN = re.compile(r"^(0|[1-9]\d*)(\.\d*[1-9])?$")


def market(tick: str) -> Market:
    return Market("X/Y", "X", "Y", tick, "0.001", 10)


@pytest.mark.parametrize(
    ("tick", "notional", "filled", "text"),
    [
        ("0.1", 1001 * 500 + 1002 * 500, 1000, "100.15"),  # exact
        ("0.1", 1001 * 500 + 1003 * 200, 700, "100.157142857"),  # 1 + 8 places
        ("0.01", 2, 3, "0.0066666667"),  # 2 + 8 places, rounded up
        ("5", 7, 2, "17.5"),  # a tick without decimals
        ("0.25", 5, 2, "0.625"),
        ("0.1", 10**15 * 10**15, 10**15, "100000000000000"),  # no exponent
        ("0.1", 25, 1, "2.5"),
    ],
)
def test_average_prices(tick: str, notional: int, filled: int, text: str) -> None:
    assert market(tick).avg_price_text(notional, filled) == text


def test_nothing_filled_has_no_average() -> None:
    assert market("0.1").avg_price_text(0, 0) is None


@given(
    tick=st.sampled_from(["0.1", "0.01", "0.5", "1", "25", "0.000001"]),
    fills=st.lists(st.tuples(st.integers(1, 10**9), st.integers(1, 10**6)), min_size=1),
)
def test_an_average_is_plain_and_within_half_a_unit_of_its_last_place(
    tick: str, fills: list[tuple[int, int]]
) -> None:
    notional = sum(price * qty for price, qty in fills)
    filled = sum(qty for _, qty in fills)
    text = market(tick).avg_price_text(notional, filled)
    assert text is not None and PLAIN.match(text)
    exact = Decimal(notional) * Decimal(tick) / Decimal(filled)  # 28 digits: plenty here
    places = max(0, -int(Decimal(tick).as_tuple().exponent)) + AVG_EXTRA_PLACES
    assert abs(Decimal(text) - exact) <= Decimal(1).scaleb(-places) / 2
    low, high = min(p for p, _ in fills), max(p for p, _ in fills)
    assert Decimal(low) * Decimal(tick) <= Decimal(text) <= Decimal(high) * Decimal(tick)
