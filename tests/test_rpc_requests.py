"""Parsing payloads (net.rpc.requests): strict, typed, bounded, amounts exact or refused.

Every outcome of arbitrary input is a typed request or an RpcError naming a field."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rpc_helpers import BTC, ETH, Ledger

import engine
from net.rpc import RpcError
from net.rpc.framing import decode_request
from net.rpc.requests import (
    AmendRequest,
    OrdersRequest,
    SubmitRequest,
    SyncRequest,
    parse_request,
)

OPS = (
    "status",
    "markets",
    "submit",
    "cancel",
    "cancel_all",
    "amend",
    "book",
    "trades",
    "orders",
    "order",
    "digest",
    "sync",
    "candles",
    "ticker",
)
FIELDS = (
    "market",
    "side",
    "type",
    "price",
    "qty",
    "tif",
    "post_only",
    "stp",
    "client_id",
    "order_id",
    "depth",
    "since",
    "limit",
    "open",
    "index",
    "timeout_ms",
    "expire_at",
    "trigger",
    "interval",
)


WORDS = ("buy", "sell", "limit", "market", "stop", "stop_limit", "gtc", "fok", "gtd", "1m",
         "cancel_both", "0.1", "1e3", BTC, "")  # fmt: skip


@pytest.fixture(scope="module")
def exchange() -> engine.Exchange:
    ledger = Ledger()
    ledger.apply(engine.Submit("bob", BTC, "sell", "limit", 1000, 1000))  # order 1
    return ledger.exchange


def parse(exchange: engine.Exchange, payload: object):
    return parse_request(payload, exchange, "alice")


def submit(exchange: engine.Exchange, **fields: object) -> engine.Submit:
    payload = {"op": "submit", "market": BTC, "side": "buy", "price": "1", "qty": "1", **fields}
    request = parse(exchange, payload)
    assert isinstance(request, SubmitRequest)
    return request.command


def test_submit_defaults(exchange: engine.Exchange) -> None:
    command = submit(exchange, client_id="c")
    assert command == engine.Submit(
        "alice", BTC, "buy", "limit", 10, 1000, "gtc", False, "none", "c"
    )
    market = submit(exchange, type="market", price=None)
    assert (market.price, market.tif) == (None, "ioc")


def test_a_missing_client_id_is_generated_and_flagged(exchange: engine.Exchange) -> None:
    first, second = (
        parse(exchange, {"op": "submit", "market": ETH, "side": "sell", "price": "1", "qty": "1"})
        for _ in range(2)
    )
    assert isinstance(first, SubmitRequest) and isinstance(second, SubmitRequest)
    assert first.generated_client_id and second.generated_client_id
    assert first.command.client_id != second.command.client_id
    assert not parse(
        exchange,
        {"op": "submit", "market": ETH, "side": "sell", "price": "1", "qty": "1", "client_id": "k"},
    ).generated_client_id


def test_json_numbers_reach_the_parser_as_exact_decimals(exchange: engine.Exchange) -> None:
    body = b'["r", "dex_rpc", {"op": "submit", "market": "ETH/USD", "side": "buy", '
    frame = decode_request(body + b'"price": 100.25, "qty": 0.1e1}]', gzipped=False)
    assert isinstance(frame.payload, dict) and frame.payload["price"] == Decimal("100.25")
    command = parse(exchange, frame.payload).command
    assert (command.price, command.qty) == (10025, 100)


@given(ticks=st.integers(1, 10**12), as_number=st.booleans())
def test_prices_on_the_tick_convert_exactly(
    exchange: engine.Exchange, ticks: int, as_number: bool
) -> None:
    text = str(Decimal(ticks) * Decimal("0.01"))
    price = Decimal(text) if as_number else text
    assert submit(exchange, market=ETH, price=price).price == ticks


@given(ticks=st.integers(1, 10**12), off=st.sampled_from(["0.001", "0.005", "0.009"]))
def test_prices_off_the_tick_are_refused_not_rounded(
    exchange: engine.Exchange, ticks: int, off: str
) -> None:
    price = str(Decimal(ticks) * Decimal("0.01") + Decimal(off))
    with pytest.raises(RpcError, match=r"^ERR_INVALID: price: .* is not a multiple of 0.01$"):
        submit(exchange, market=ETH, price=price)


def test_amend_converts_with_the_orders_market(exchange: engine.Exchange) -> None:
    request = parse(exchange, {"op": "amend", "order_id": 1, "price": "100.1"})
    assert isinstance(request, AmendRequest)
    assert request.command == engine.Amend("alice", 1, None, 1001)
    assert request.before.owner == "bob"  # ownership is the engine's to judge
    with pytest.raises(RpcError, match="ERR_NOT_FOUND: order_id: no order 2"):
        parse(exchange, {"op": "amend", "order_id": 2, "price": "1"})


def test_read_defaults(exchange: engine.Exchange) -> None:
    assert parse(exchange, {"op": "orders"}) == OrdersRequest(None, True, 0, 1000)
    assert parse(exchange, {"op": "sync", "index": 3}) == SyncRequest(3, 5.0)
    assert parse(exchange, {"op": "sync", "index": 3, "timeout_ms": 250}) == SyncRequest(3, 0.25)


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(
    op=st.sampled_from(OPS) | st.text(max_size=8),
    fields=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), values, max_size=6),
)
def test_any_payload_parses_or_names_what_is_wrong(
    exchange: engine.Exchange, op: str, fields: dict
) -> None:
    digest = exchange.digest()
    try:
        request = parse(exchange, {"op": op, **fields})
    except RpcError as error:
        assert error.code in ("ERR_INVALID", "ERR_UNKNOWN_OP", "ERR_NOT_FOUND")
        named = (*fields, *FIELDS, "op")
        assert any(error.message.startswith(f"{field}: ") for field in named), error
        assert len(error.message) < 250
    else:
        assert op in OPS
        assert type(request).__name__.lower().startswith(op.replace("_", ""))
    assert exchange.digest() == digest
