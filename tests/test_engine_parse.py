"""parse_command reads outside input strictly; encode_command/parse_command round-trip."""

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    Amend,
    Cancel,
    CancelAll,
    CreateMarket,
    InvalidInput,
    Submit,
    encode_command,
    parse_command,
)

SUBMIT = {
    "op": "submit",
    "owner": "alice",
    "market": "BTC/USD",
    "side": "buy",
    "type": "limit",
    "price": 100,
    "qty": 5,
    "tif": "gtc",
    "post_only": False,
    "stp": "none",
    "client_id": "c1",
}
MARKET = {"op": "submit", "owner": "alice", "market": "BTC/USD", "side": "sell", "type": "market",
          "qty": 5}  # fmt: skip
CANCEL = {"op": "cancel", "owner": "alice", "order_id": 3}
CANCEL_ALL = {"op": "cancel_all", "owner": "alice"}
AMEND = {"op": "amend", "owner": "alice", "order_id": 3, "qty": 4}
CREATE = {"op": "create_market", "symbol": "BTC/USD", "base": "BTC", "quote": "USD",
          "tick": "0.01", "lot": "0.001"}  # fmt: skip

_MISSING = object()


def _with(template: dict, /, **changes: object) -> dict:
    out = dict(template)
    for key, value in changes.items():
        if value is _MISSING:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------- valid input


def test_parse_full_submit():
    assert parse_command(SUBMIT) == Submit(
        "alice", "BTC/USD", "buy", "limit", 100, 5, "gtc", False, "none", "c1"
    )


def test_parse_submit_defaults():
    minimal = _with(SUBMIT, type=_MISSING, tif=_MISSING, post_only=_MISSING, stp=_MISSING,
                    client_id=_MISSING)  # fmt: skip
    expected = Submit("alice", "BTC/USD", "buy", "limit", 100, 5, "gtc", False, "none", None)
    assert parse_command(minimal) == expected
    nulls = _with(SUBMIT, type=None, tif=None, post_only=None, stp=None, client_id=None)
    assert parse_command(nulls) == expected


def test_parse_market_order_defaults_to_ioc_without_price():
    assert parse_command(MARKET) == Submit(
        "alice", "BTC/USD", "sell", "market", None, 5, "ioc", False, "none", None
    )
    protected = parse_command(_with(MARKET, price=90, tif="fok"))
    assert (protected.price, protected.tif) == (90, "fok")  # type: ignore[union-attr]


def test_parse_post_only_gtc_and_every_stp_mode():
    for stp in ("none", "cancel_taker", "cancel_maker", "cancel_both"):
        cmd = parse_command(_with(SUBMIT, post_only=True, stp=stp))
        assert (cmd.post_only, cmd.stp) == (True, stp)  # type: ignore[union-attr]


def test_parse_cancel_cancel_all_amend_create():
    assert parse_command(CANCEL) == Cancel("alice", 3, None)
    assert parse_command(_with(CANCEL, order_id=None, client_id="c")) == Cancel("alice", None, "c")
    assert parse_command(CANCEL_ALL) == CancelAll("alice", None)
    assert parse_command(_with(CANCEL_ALL, market="ETH/USD")) == CancelAll("alice", "ETH/USD")
    assert parse_command(AMEND) == Amend("alice", 3, 4, None)
    assert parse_command(_with(AMEND, qty=None, price=7)) == Amend("alice", 3, None, 7)
    assert parse_command(CREATE) == CreateMarket("BTC/USD", "BTC", "USD", "0.01", "0.001")


@pytest.mark.parametrize(
    "obj",
    [
        _with(SUBMIT, price=10**15, qty=10**15),
        _with(SUBMIT, owner="x" * 64, client_id="y" * 64),
        _with(CANCEL, order_id=2**63 - 1),
        _with(CREATE, tick="0.000000000001", lot="1000000"),
        _with(SUBMIT, owner="ünï cødé ✓"),
    ],
)
def test_boundary_values_are_accepted(obj):
    command = parse_command(obj)
    encoded = encode_command(command)
    assert {k: v for k, v in encoded.items() if v is not None} == obj
    assert parse_command(encoded) == command


# ---------------------------------------------------------------------- invalid input

INVALID = [
    # not a command at all
    ([], "command"),
    ("submit", "command"),
    (None, "command"),
    (5, "command"),
    # op
    ({}, "op"),
    ({"op": "SUBMIT"}, "op"),
    ({"op": "trade"}, "op"),
    ({"op": 1}, "op"),
    ({"op": None}, "op"),
    ({"op": ["submit"]}, "op"),
    # unknown fields, including fields that belong to other ops
    (_with(SUBMIT, extra=1), "extra"),
    (_with(SUBMIT, order_id=1), "order_id"),
    (_with(CANCEL, price=1), "price"),
    (_with(CANCEL_ALL, side="buy"), "side"),
    (_with(AMEND, market="BTC/USD"), "market"),
    (_with(CREATE, owner="alice"), "owner"),
    # owner
    (_with(SUBMIT, owner=_MISSING), "owner"),
    (_with(SUBMIT, owner=""), "owner"),
    (_with(SUBMIT, owner=None), "owner"),
    (_with(SUBMIT, owner=5), "owner"),
    (_with(SUBMIT, owner=True), "owner"),
    (_with(SUBMIT, owner="x" * 65), "owner"),
    (_with(SUBMIT, owner="a\nb"), "owner"),
    (_with(SUBMIT, owner="a\x00"), "owner"),
    (_with(CANCEL, owner=_MISSING), "owner"),
    (_with(CANCEL_ALL, owner=""), "owner"),
    (_with(AMEND, owner=["alice"]), "owner"),
    # market
    (_with(SUBMIT, market=_MISSING), "market"),
    (_with(SUBMIT, market=""), "market"),
    (_with(SUBMIT, market=3), "market"),
    (_with(CANCEL_ALL, market=""), "market"),
    (_with(CANCEL_ALL, market=7), "market"),
    # side
    (_with(SUBMIT, side=_MISSING), "side"),
    (_with(SUBMIT, side="BUY"), "side"),
    (_with(SUBMIT, side="long"), "side"),
    (_with(SUBMIT, side=1), "side"),
    (_with(SUBMIT, side=""), "side"),
    (_with(SUBMIT, side=["buy"]), "side"),
    # type
    (_with(SUBMIT, type="stop_market"), "type"),
    (_with(SUBMIT, type="LIMIT"), "type"),
    (_with(SUBMIT, type=0), "type"),
    # price and qty: integers in 1..10**15, never bool, float or string
    (_with(SUBMIT, price=_MISSING), "price"),
    (_with(SUBMIT, price=None), "price"),
    (_with(SUBMIT, price="100"), "price"),
    (_with(SUBMIT, price=100.0), "price"),
    (_with(SUBMIT, price=True), "price"),
    (_with(SUBMIT, price=0), "price"),
    (_with(SUBMIT, price=-1), "price"),
    (_with(SUBMIT, price=10**15 + 1), "price"),
    (_with(MARKET, price=0), "price"),
    (_with(MARKET, price=False), "price"),
    (_with(MARKET, price=1.5), "price"),
    (_with(SUBMIT, qty=_MISSING), "qty"),
    (_with(SUBMIT, qty=None), "qty"),
    (_with(SUBMIT, qty="5"), "qty"),
    (_with(SUBMIT, qty=5.0), "qty"),
    (_with(SUBMIT, qty=True), "qty"),
    (_with(SUBMIT, qty=0), "qty"),
    (_with(SUBMIT, qty=-5), "qty"),
    (_with(SUBMIT, qty=10**15 + 1), "qty"),
    (_with(SUBMIT, qty=10**40), "qty"),
    # tif
    (_with(SUBMIT, tif="day"), "tif"),
    (_with(SUBMIT, tif="GTC"), "tif"),
    (_with(SUBMIT, tif=1), "tif"),
    (_with(MARKET, tif="gtc"), "tif"),
    # post_only
    (_with(SUBMIT, post_only="yes"), "post_only"),
    (_with(SUBMIT, post_only=1), "post_only"),
    (_with(SUBMIT, post_only=0), "post_only"),
    (_with(SUBMIT, post_only=True, tif="ioc"), "post_only"),
    (_with(SUBMIT, post_only=True, tif="fok"), "post_only"),
    (_with(MARKET, post_only=True), "post_only"),
    (_with(MARKET, post_only=True, tif="fok"), "post_only"),
    # stp
    (_with(SUBMIT, stp="cancel"), "stp"),
    (_with(SUBMIT, stp=""), "stp"),
    (_with(SUBMIT, stp=True), "stp"),
    # client_id
    (_with(SUBMIT, client_id=""), "client_id"),
    (_with(SUBMIT, client_id=5), "client_id"),
    (_with(SUBMIT, client_id="c" * 65), "client_id"),
    (_with(SUBMIT, client_id="tab\there"), "client_id"),
    # cancel: exactly one of order_id and client_id
    (_with(CANCEL, order_id=_MISSING), "order_id"),
    (_with(CANCEL, order_id=None), "order_id"),
    (_with(CANCEL, client_id="c"), "order_id"),
    (_with(CANCEL, order_id=0), "order_id"),
    (_with(CANCEL, order_id=-3), "order_id"),
    (_with(CANCEL, order_id=True), "order_id"),
    (_with(CANCEL, order_id="3"), "order_id"),
    (_with(CANCEL, order_id=3.0), "order_id"),
    (_with(CANCEL, order_id=2**63), "order_id"),
    (_with(CANCEL, order_id=None, client_id=""), "client_id"),
    (_with(CANCEL, order_id=None, client_id=3), "client_id"),
    # amend: needs qty or price, both in range
    (_with(AMEND, qty=_MISSING), "qty"),
    (_with(AMEND, qty=None, price=None), "qty"),
    (_with(AMEND, qty=0), "qty"),
    (_with(AMEND, qty=False), "qty"),
    (_with(AMEND, qty=1.0), "qty"),
    (_with(AMEND, price=True), "price"),
    (_with(AMEND, price=-1), "price"),
    (_with(AMEND, price=10**15 + 1), "price"),
    (_with(AMEND, order_id=_MISSING), "order_id"),
    (_with(AMEND, order_id=None), "order_id"),
    (_with(AMEND, order_id=False), "order_id"),
    # create_market
    (_with(CREATE, symbol="BTC-USD"), "symbol"),
    (_with(CREATE, symbol="ETH/USD"), "symbol"),
    (_with(CREATE, symbol=_MISSING), "symbol"),
    (_with(CREATE, base=_MISSING), "base"),
    (_with(CREATE, quote=""), "quote"),
    (_with(CREATE, tick=_MISSING), "tick"),
    (_with(CREATE, tick=0.01), "tick"),
    (_with(CREATE, tick=1), "tick"),
    (_with(CREATE, tick="1e-2"), "tick"),
    (_with(CREATE, tick="1E2"), "tick"),
    (_with(CREATE, tick="0"), "tick"),
    (_with(CREATE, tick="-0.01"), "tick"),
    (_with(CREATE, tick="abc"), "tick"),
    (_with(CREATE, tick=""), "tick"),
    (_with(CREATE, tick="Infinity"), "tick"),
    (_with(CREATE, tick="NaN"), "tick"),
    (_with(CREATE, tick="0.0000000000001"), "tick"),
    (_with(CREATE, tick="1000001"), "tick"),
    (_with(CREATE, lot=None), "lot"),
    (_with(CREATE, lot="nan"), "lot"),
    (_with(CREATE, lot=True), "lot"),
    (_with(CREATE, lot="0.00"), "lot"),
]


@pytest.mark.parametrize(("obj", "field"), INVALID)
def test_invalid_input_names_the_field(obj, field):
    with pytest.raises(InvalidInput) as info:
        parse_command(obj)
    assert info.value.field == field
    assert info.value.reason
    assert str(info.value).startswith(f"{field}: ")


def test_null_side_is_refused():
    with pytest.raises(InvalidInput) as info:
        parse_command(_with(SUBMIT, side=None))
    assert info.value.field == "side"


def test_non_string_keys_are_invalid_input():
    with pytest.raises(InvalidInput):
        parse_command({**CANCEL_ALL, 1: 2, "zz": 3})


# ---------------------------------------------------------------------- round trip

names = st.text(min_size=1, max_size=64).filter(str.isprintable)
short_names = st.text(min_size=1, max_size=31).filter(lambda s: s.isprintable() and "/" not in s)
units = st.integers(1, 10**15)
order_ids = st.integers(1, 2**63 - 1)
stps = st.sampled_from(("none", "cancel_taker", "cancel_maker", "cancel_both"))


@st.composite
def steps(draw: st.DrawFn) -> str:
    mantissa = draw(st.integers(1, 10**6))
    exponent = draw(st.integers(-12, 0))
    value = Decimal(mantissa).scaleb(exponent)
    if value > 10**6:
        value = Decimal(10**6)
    return format(value, "f")


@st.composite
def submits(draw: st.DrawFn) -> Submit:
    kind = draw(st.sampled_from(("limit", "market")))
    if kind == "market":
        price = draw(st.none() | units)
        tif = draw(st.sampled_from(("ioc", "fok")))
        post_only = False
    else:
        price = draw(units)
        tif = draw(st.sampled_from(("gtc", "ioc", "fok")))
        post_only = tif == "gtc" and draw(st.booleans())
    side = draw(st.sampled_from(("buy", "sell")))
    return Submit(draw(names), draw(names), side, kind, price, draw(units), tif, post_only,
                  draw(stps), draw(st.none() | names))  # fmt: skip


@st.composite
def create_markets(draw: st.DrawFn) -> CreateMarket:
    base, quote = draw(short_names), draw(short_names)
    return CreateMarket(f"{base}/{quote}", base, quote, draw(steps()), draw(steps()))


@st.composite
def amend_commands(draw: st.DrawFn) -> Amend:
    qty = draw(st.none() | units)
    price = draw(units) if qty is None else draw(st.none() | units)
    return Amend(draw(names), draw(order_ids), qty, price)


valid_commands = st.one_of(
    submits(),
    create_markets(),
    amend_commands(),
    st.builds(CancelAll, names, st.none() | names),
    st.builds(Cancel, names, order_ids, st.none()),
    st.builds(Cancel, names, st.none(), names),
)


@settings(max_examples=300, deadline=None)
@given(valid_commands)
def test_encode_parse_round_trip(command):
    encoded = encode_command(command)
    assert isinstance(encoded["op"], str)
    wire = json.loads(json.dumps(encoded))  # JSON-safe
    assert wire == encoded
    parsed = parse_command(wire)
    assert parsed == command
    assert type(parsed) is type(command)
    assert encode_command(parsed) == encoded


FIELD_NAMES = sorted(
    {"op", "owner", "market", "side", "type", "price", "qty", "tif", "post_only", "stp",
     "client_id", "order_id", "symbol", "base", "quote", "tick", "lot"}
)  # fmt: skip
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=70)
    | st.sampled_from(("buy", "sell", "limit", "market", "gtc", "ioc", "fok", "cancel_maker"))
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
ops = st.sampled_from(("submit", "cancel", "cancel_all", "amend", "create_market", "other"))


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    json_values,
    st.builds(lambda op, rest: {**rest, "op": op}, ops,
              st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=11)),
))  # fmt: skip
def test_arbitrary_json_is_parsed_or_refused_with_invalid_input(obj):
    try:
        command = parse_command(obj)
    except InvalidInput as exc:
        assert isinstance(exc.field, str) and exc.field
        assert exc.field in {"command", *FIELD_NAMES} or exc.field in obj
        return
    # whatever was accepted is a well-formed command that survives a round trip
    assert parse_command(json.loads(json.dumps(encode_command(command)))) == command
