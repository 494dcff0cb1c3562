"""Candles and the 24 h ticker (engine/candles.py): each rule, then properties against a
naive reference that buckets every trade by ``time - time % interval``."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import InvalidInput
from engine.candles import DAY, INTERVALS, MAX_BARS, MINUTE, Candles

T0 = 1_699_999_860_000  # a minute into a 5 minute period (and 51 into an hour), in ms
HOUR = 3_600_000


def fed(trades: list[tuple[int, int, int]]) -> Candles:
    candles = Candles()
    for time, price, qty in trades:
        candles.trade(time, price, qty)
    return candles


def reference(trades: list[tuple[int, int, int]], ms: int) -> list[tuple]:
    """Every period's candle, oldest first; a time below an earlier one counts as that."""
    bars: dict[int, list[int]] = {}
    latest = None
    for time, price, qty in trades:
        latest = time if latest is None else max(latest, time)
        start = latest - latest % ms
        bar = bars.setdefault(start, [start, price, price, price, price, 0])
        bar[2], bar[3], bar[4], bar[5] = max(bar[2], price), min(bar[3], price), price, bar[5] + qty
    return [tuple(bar) for bar in bars.values()]


def reference_ticker(trades: list[tuple[int, int, int]], now: int) -> tuple | None:
    """The ticker straight from the definition, over every trade ever made."""
    if not trades:
        return None
    cutoff = max(now, max(time for time, _, _ in trades)) - DAY
    minutes = reference(trades, MINUTE)
    before = [bar for bar in minutes if bar[0] <= cutoff]
    window = [bar for bar in minutes if bar[0] > cutoff]
    last = trades[-1][1]
    base = before[-1][4] if before else window[0][1]
    high = max([last, *(bar[2] for bar in window)])
    low = min([last, *(bar[3] for bar in window)])
    return (last, last - base, high, low, sum(bar[5] for bar in window))


def kept(candles: Candles) -> list[int]:
    """How many candles each part of the state holds: [minute in progress, 1m, 5m, 1h]."""
    head, *series = candles.to_json()
    return [0 if head is None else 1, *(len(rows) for rows in series)]


# --- the rules, one by one ---------------------------------------------------------------


def test_a_market_that_never_traded_has_no_candles_and_no_ticker():
    candles = Candles()
    assert all(candles.bars(name, MAX_BARS) == [] for name in INTERVALS)
    assert candles.ticker(T0) is None
    assert candles.to_json() == [None, [], [], []]
    assert Candles.from_json(candles.to_json()).to_json() == [None, [], [], []]


def test_a_minute_candle_is_open_high_low_close_and_summed_volume():
    candles = fed([(T0 + 5, 100, 2), (T0 + 10, 104, 1), (T0 + 20, 97, 3), (T0 + 59_999, 101, 4)])
    assert candles.bars("1m", 10) == [(T0, 100, 104, 97, 101, 10)]


def test_minute_boundaries_start_a_new_candle_at_exactly_the_minute():
    candles = fed(
        [(T0 - 1, 100, 1), (T0, 101, 1), (T0 + MINUTE - 1, 102, 1), (T0 + MINUTE, 103, 1)]
    )
    assert candles.bars("1m", 10) == [
        (T0 - MINUTE, 100, 100, 100, 100, 1),
        (T0, 101, 102, 101, 102, 2),
        (T0 + MINUTE, 103, 103, 103, 103, 1),
    ]


def test_a_time_below_the_last_counts_as_the_last_trades_minute():
    candles = fed([(T0 + 2 * MINUTE, 100, 1), (T0, 90, 2), (T0 - DAY, 95, 1)])
    assert candles.bars("1m", 10) == [(T0 + 2 * MINUTE, 100, 100, 90, 95, 4)]


def test_periods_without_trades_are_omitted():
    candles = fed([(T0, 100, 1), (T0 + 3 * MINUTE, 101, 1), (T0 + 3 * HOUR, 102, 1)])
    assert [bar[0] for bar in candles.bars("1m", 10)] == [T0, T0 + 3 * MINUTE, T0 + 3 * HOUR]
    assert len(candles.bars("1h", 10)) == 2


def test_5m_and_1h_include_the_minute_in_progress():
    candles = fed([(T0, 100, 1), (T0 + MINUTE, 110, 2)])  # the second minute is unfinished
    five = T0 - T0 % 300_000
    hour = T0 - T0 % HOUR
    assert candles.bars("5m", 10) == [(five, 100, 110, 100, 110, 3)]
    assert candles.bars("1h", 10) == [(hour, 100, 110, 100, 110, 3)]
    candles.trade(T0 + MINUTE + 1, 90, 1)  # still the same minute: every interval sees it
    assert candles.bars("5m", 10) == [(five, 100, 110, 90, 90, 4)]
    assert candles.bars("1h", 10) == [(hour, 100, 110, 90, 90, 4)]


def test_rollups_equal_a_direct_aggregation_of_the_trades():
    rng = random.Random(7)
    trades = [(T0 + i * 7_919, rng.randint(90, 110), rng.randint(1, 5)) for i in range(2_000)]
    candles = fed(trades)
    for name, ms in INTERVALS.items():
        assert candles.bars(name, MAX_BARS) == reference(trades, ms)[-MAX_BARS:], name


def test_limit_gives_the_last_periods_oldest_first():
    candles = fed([(T0 + i * MINUTE, 100 + i, 1) for i in range(5)])
    assert [bar[1] for bar in candles.bars("1m", 2)] == [103, 104]
    assert candles.bars("1m", 1) == [(T0 + 4 * MINUTE, 104, 104, 104, 104, 1)]
    assert len(candles.bars("1m", MAX_BARS)) == 5


@pytest.mark.parametrize("interval", ["2m", "", "1M", "60000", "1m "])
def test_an_unknown_interval_is_refused_by_name(interval):
    candles = fed([(T0, 100, 1)])
    with pytest.raises(InvalidInput) as caught:
        candles.bars(interval, 10)
    assert caught.value.field == "interval"
    assert candles.bars("1m", 10) == [(T0, 100, 100, 100, 100, 1)]


@pytest.mark.parametrize("limit", [0, -1, MAX_BARS + 1, 10**9])
def test_a_limit_outside_1_to_max_bars_is_refused_by_name(limit):
    with pytest.raises(InvalidInput) as caught:
        fed([(T0, 100, 1)]).bars("1m", limit)
    assert caught.value.field == "limit"
    assert str(MAX_BARS) in caught.value.reason


def test_each_interval_keeps_max_bars_and_1m_keeps_the_day():
    # A trade every minute for three days: 1m keeps the day and the minute before it.
    trades = [(T0 + i * MINUTE, 100 + i % 7, 1) for i in range(3 * 1440)]
    candles = fed(trades)
    # 5m and 1h hold every period of the finished minutes (the last minute opens a 5m one).
    assert kept(candles) == [1, 1440, len(reference(trades[:-1], 300_000)), 73]
    assert len(reference(trades, 300_000)) == 865
    assert len(candles.bars("1m", MAX_BARS)) == MAX_BARS
    # A trade every hour for 1,100 hours: 5m and 1h stop at MAX_BARS, 1m at MAX_BARS in all.
    candles = fed([(T0 + i * HOUR, 100, 1) for i in range(1_100)])
    assert kept(candles) == [1, MAX_BARS - 1, MAX_BARS, MAX_BARS]
    assert candles.bars("1h", MAX_BARS)[0][0] == T0 - T0 % HOUR + 100 * HOUR


def test_ticker_over_the_last_24_hours():
    trades = [(T0, 100, 1), (T0 + 30 * MINUTE, 120, 2), (T0 + DAY + 5 * MINUTE, 110, 4)]
    candles = fed(trades)
    # The window starts after T0 + 5 min: the first trade is the price 24 h ago.
    assert candles.ticker(T0 + DAY + 5 * MINUTE) == (110, 10, 120, 110, 6)


def test_ticker_window_edges_are_at_minute_granularity():
    candles = fed([(T0 + 59_999, 100, 1), (T0 + 2 * MINUTE, 104, 3)])
    # The first minute is in the window while its start is after now - 24 h...
    assert candles.ticker(T0 + DAY - 1) == (104, 4, 104, 100, 4)
    # ...and out from now - 24 h = its start, though its trade is then 1 ms under 24 h old.
    assert candles.ticker(T0 + DAY) == (104, 4, 104, 104, 3)
    # The price 24 h ago is the close of the last candle before the window.
    assert candles.ticker(T0 + 2 * MINUTE + DAY) == (104, 0, 104, 104, 0)


def test_ticker_with_no_trade_in_the_window_shows_the_last_price_flat():
    candles = fed([(T0, 100, 1), (T0 + 10, 103, 1)])
    assert candles.ticker(T0 + 30 * DAY) == (103, 0, 103, 103, 0)


def test_ticker_counts_a_now_before_the_last_trade_as_the_last_trade():
    candles = fed([(T0, 100, 1), (T0 + DAY + 5 * MINUTE, 110, 4)])
    assert candles.ticker(0) == candles.ticker(T0 + DAY + 5 * MINUTE) == (110, 10, 110, 110, 4)


def test_json_is_canonical_compact_and_holds_only_integers():
    trades = [(T0 + i * 41_000, 100 + i % 5, 1 + i % 3) for i in range(300)]
    obj = fed(trades).to_json()
    assert obj == fed(trades).to_json()
    text = json.dumps(obj, separators=(",", ":"))
    assert json.loads(text) == obj
    assert all(type(v) is int for row in [obj[0], *obj[1], *obj[2], *obj[3]] for v in row)


def _valid() -> list:
    return fed([(T0, 100, 1), (T0 + MINUTE, 101, 2), (T0 + 6 * MINUTE, 99, 1)]).to_json()


def _broken(path: tuple[int, ...], value: object) -> list:
    obj = json.loads(json.dumps(_valid()))
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return obj


# A finished minute that is the minute in progress, though every series agrees with it.
IN_PROGRESS_TOO = [
    [T0, 1, 1, 1, 1, 1],
    *([[T0 - T0 % ms, 1, 1, 1, 1, 1]] for ms in INTERVALS.values()),
]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (None, "expected [minute, 1m, 5m, 1h]"),
        ({}, "expected [minute, 1m, 5m, 1h]"),
        ("[]", "expected [minute, 1m, 5m, 1h]"),
        ([None, [], []], "expected [minute, 1m, 5m, 1h]"),
        ([None, [[T0, 1, 1, 1, 1, 1]], [], []], "without a minute in progress"),
        ([None, 0, [], []], "without a minute in progress"),
        (_broken((0,), [T0 + 1, 1, 1, 1, 1, 1]), "minute in progress does not start on"),
        (_broken((0, 5), 0), "impossible prices or volume"),
        (_broken((0, 3), 0), "impossible prices or volume"),  # a price of 0
        (_broken((0, 2), 50), "impossible prices or volume"),  # high below open
        (_broken((0, 1), True), "minute in progress is not six integers"),  # a bool
        (_broken((0, 1), 100.0), "minute in progress is not six integers"),
        (_broken((0,), [T0, 1, 1, 1, 1]), "minute in progress is not six integers"),
        (_broken((1,), {}), "1m is not a list"),
        (_broken((1, 0), [T0 + MINUTE, 101, 101, 101, 101, 2]), "1m candle 1 out of order"),
        (IN_PROGRESS_TOO, "1m does not end before the minute in progress"),
        (_broken((2,), []), "5m does not end with the last minute"),
        (_broken((3, 0, 0), T0 - T0 % HOUR - HOUR), "1h does not end with the last minute"),
        (_broken((2, 0, 0), T0), "5m candle 0 does not start on its interval"),
        (_broken((3,), [[0, 1, 1, 1, 1, 1]] * (MAX_BARS + 1)), "1h is not a list"),
    ],
)
def test_malformed_json_is_refused_as_a_snapshot_error(obj, reason):
    with pytest.raises(InvalidInput) as caught:
        Candles.from_json(obj)
    assert caught.value.field == "snapshot"
    assert reason in caught.value.reason


def test_more_minutes_than_needed_are_refused():
    trades = [(T0 + i * MINUTE, 100, 1) for i in range(MAX_BARS)] + [(T0 + 2 * DAY, 100, 1)]
    obj = fed(trades).to_json()
    assert len(obj[1]) == MAX_BARS - 1
    obj[1].insert(0, [T0 - MINUTE, 100, 100, 100, 100, 1])  # one the ticker can never need
    with pytest.raises(InvalidInput, match="more minutes"):
        Candles.from_json(obj)


# --- properties ----------------------------------------------------------------------------

# Time steps: mostly within a minute, some across minutes or hours, a few backwards.
STEPS = st.one_of(
    st.integers(0, 20_000),
    st.integers(0, 400_000),
    st.integers(0, 5 * HOUR),
    st.integers(-100_000, -1),
)
STREAMS = st.lists(st.tuples(STEPS, st.integers(1, 50), st.integers(1, 9)), max_size=120)


def timed(stream: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    trades, time = [], T0
    for step, price, qty in stream:
        time += step
        trades.append((time, price, qty))
    return trades


@settings(max_examples=200, deadline=None)
@given(STREAMS, st.integers(1, MAX_BARS))
def test_every_interval_equals_the_reference_aggregation(stream, limit):
    trades = timed(stream)
    candles = fed(trades)
    for name, ms in INTERVALS.items():
        assert candles.bars(name, limit) == reference(trades, ms)[-limit:], name


@settings(max_examples=200, deadline=None)
@given(STREAMS, st.integers(-DAY, 3 * DAY))
def test_ticker_equals_the_reference(stream, after):
    trades = timed(stream)
    now = (trades[-1][0] if trades else T0) + after
    assert fed(trades).ticker(now) == reference_ticker(trades, now)


@settings(max_examples=100, deadline=None)
@given(STREAMS, st.data())
def test_continuing_after_a_json_round_trip_is_the_same_as_not(stream, data):
    trades = timed(stream)
    cut = data.draw(st.integers(0, len(trades)))
    straight = fed(trades)
    resumed = Candles.from_json(json.loads(json.dumps(fed(trades[:cut]).to_json())))
    for trade in trades[cut:]:
        resumed.trade(*trade)
    assert resumed.to_json() == straight.to_json()
    end = trades[-1][0] if trades else T0
    assert resumed.ticker(end) == straight.ticker(end)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32))
def test_long_streams_stay_bounded_and_equal_the_reference(seed):
    """Thousands of trades over months: the kept span is every interval's last MAX_BARS."""
    rng = random.Random(seed)
    trades, time = [], T0
    for i in range(1, 6_001):
        time += rng.choice((0, 1_000, 30_000, 90_000, 2 * HOUR, 5 * HOUR))
        trades.append((time, rng.randint(1, 99), rng.randint(1, 9)))
        if i % 1_500 == 0:
            candles = fed(trades)
            head, minutes, fives, hours = kept(candles)
            assert head == 1 and minutes <= 1440 and max(fives, hours) <= MAX_BARS
            for name, ms in INTERVALS.items():
                assert candles.bars(name, MAX_BARS) == reference(trades, ms)[-MAX_BARS:]
            assert candles.ticker(time + HOUR) == reference_ticker(trades, time + HOUR)
    assert hours == MAX_BARS  # the 1h bound was reached, so it was tested


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=7),
    max_leaves=40,
)


def _loads_or_refuses(obj: object) -> None:
    """from_json either refuses ``obj`` as a snapshot error or gives candles that round-trip."""
    try:
        candles = Candles.from_json(obj)
    except InvalidInput as error:
        assert error.field == "snapshot"
    else:
        assert Candles.from_json(candles.to_json()).to_json() == candles.to_json()


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_from_json_of_any_json_refuses_or_accepts_and_raises_nothing_else(obj):
    _loads_or_refuses(obj)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_from_json_of_a_damaged_state_refuses_or_accepts_and_raises_nothing_else(data):
    obj = _valid()
    row = data.draw(st.sampled_from([obj[0], *obj[1], *obj[2], *obj[3]]))
    row[data.draw(st.integers(0, 5))] = data.draw(st.integers(-(2**40), 2**62) | JSON)
    _loads_or_refuses(obj)
