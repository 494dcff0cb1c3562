"""Canonical, versioned snapshots of an exchange, and restoring from them.

The bytes are a one-line header and compact JSON made only of lists, strings, integers,
booleans and nulls, with everything in a defined order (markets in creation order, each
book side best price first and time priority within a price, untriggered stops by order
id, finished orders oldest first). Equal states therefore give equal bytes, and the digest
is the SHA-256 of them.
Nothing about how the state happens to be stored in memory (cancelled orders still waiting
in a level's queue, dict insertion order, the stale entries of the expiry and stop heaps)
leaks in: those heaps are not written at all but rebuilt from the orders' ``expire_at`` and
``trigger``, so they cannot disagree with the orders.

A snapshot can arrive from another peer, so :func:`load` checks its shape and raises
:class:`InvalidInput` rather than trusting it.
"""

import json
from typing import TYPE_CHECKING, Final

from .accounts import MAX_FEE_BPS, Balance
from .candles import Candles
from .commands import ORDER_TYPES, SIDES, STOP_TYPES, STP_MODES, TIFS, parse_command
from .errors import InvalidInput
from .events import Done, Trade
from .markets import Market
from .orders import CANCELLED, FILLED, PARTIALLY_FILLED, REJECTED, RESTING, UNTRIGGERED, Order
from .triggers import Stops

if TYPE_CHECKING:
    from .exchange import Exchange

HEADER: Final = b"dex-engine-snapshot/3\n"


def _done_row(done: Done) -> list:
    return [*done._values()[:9], [list(t) for t in done.trades], done.index, done.time]


def _order_row(order: Order) -> list:
    outcome = None if order.outcome is None else _done_row(order.outcome)
    return [
        order.order_id,
        order.client_id,
        order.owner,
        order.market,
        order.side,
        order.type,
        order.price,
        order.qty,
        order.remaining,
        order.filled,
        order.notional,
        order.status,
        order.tif,
        order.post_only,
        order.stp,
        order.index,
        order.time,
        order.expire_at,
        order.trigger,
        outcome,
    ]


def dump(exchange: "Exchange") -> bytes:
    stops: dict[str, list[Order]] = {}  # per market, the untriggered stops by order id
    for order in exchange.orders.values():
        if order.status == UNTRIGGERED:
            stops.setdefault(order.market, []).append(order)
    markets = []
    for m in exchange.markets.values():
        book = m.book
        markets.append(
            [
                m.symbol,
                m.base,
                m.quote,
                m.tick,
                m.lot,
                [_order_row(o) for o in book.bids.queue()],
                [_order_row(o) for o in book.asks.queue()],
                [_order_row(o) for o in stops.get(m.symbol, [])],
                [list(t) for t in m.trades],
                m.last,
                m.candles.to_json(),
            ]
        )
    finished = [_order_row(order) for order in exchange.finished_orders()]
    ledger = exchange.ledger
    money = [
        ledger.on,
        ledger.maker_bps,
        ledger.taker_bps,
        [[asset.name, asset.places] for asset in ledger.assets],
        ledger.grant,
        ledger.granted,
        ledger.fees,
        sorted([name, [b.available for b in account.balances], [b.held for b in account.balances]]
               for name, account in exchange.owners.items() if account.funded),
    ]  # fmt: skip
    state = [
        exchange.history_limit,
        exchange.trade_history,
        exchange.next_order_id,
        exchange.next_trade_id,
        exchange.applied_index,
        exchange.time,
        markets,
        finished,
        money,
    ]
    return HEADER + json.dumps(state, separators=(",", ":"), ensure_ascii=True).encode()


_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))
_TRADE_TYPES = (int, str, int, int, str, int, int, str, str, int, int, int)
# The type of each order field in a row, in row order (the last field, the outcome, apart).
_ORDER_TYPES: tuple[type | tuple[type, ...], ...] = (
    int, _OPTIONAL_STR, str, str, str, str, _OPTIONAL_INT, int, int, int, int, str, str, bool,
    str, int, int, _OPTIONAL_INT, _OPTIONAL_INT,
)  # fmt: skip
_STATUSES = (RESTING, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, UNTRIGGERED)
_OPEN = (RESTING, PARTIALLY_FILLED)


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(what)


def _typed(row: object, types: tuple, what: str) -> list:
    """``row`` if it is a list of exactly these types (a bool is not an int here)."""
    _check(isinstance(row, list) and len(row) == len(types), f"{what} row")
    assert isinstance(row, list)
    for value, expected in zip(row, types, strict=True):
        _check(isinstance(value, expected), f"{what} field {value!r}")
        _check(not isinstance(value, bool) or expected is bool, f"{what} field {value!r}")
    return row


def _trade(row: object) -> Trade:
    r = _typed(row, _TRADE_TYPES, "trade")
    _check(r[2] > 0 and r[3] > 0 and r[4] in SIDES and r[9] >= 0 and r[0] > 0 and r[11] >= 0,
           "trade values")  # fmt: skip
    return Trade(*r)


def _order(row: object, exchange: "Exchange") -> Order:
    """An order from its row; ValueError unless every field is one the engine could make."""
    _check(isinstance(row, list) and len(row) == len(_ORDER_TYPES) + 1, "order row")
    assert isinstance(row, list)
    fields = _typed(row[:-1], _ORDER_TYPES, "order")
    (order_id, client_id, owner, market, side, type_, price, qty, remaining, filled, notional,
     status, tif, post_only, stp, index, time, expire_at, trigger) = fields  # fmt: skip
    outcome = row[-1]
    _check(side in SIDES and type_ in ORDER_TYPES and tif in TIFS and stp in STP_MODES
           and status in _STATUSES, "order enum field")  # fmt: skip
    _check(order_id > 0 and qty > 0 and min(remaining, filled, notional, index) >= 0
           and remaining + filled == qty, "order quantities")  # fmt: skip
    _check((price is None and type_ in ("market", "stop")) or (price is not None and price > 0),
           "price")  # fmt: skip
    _check(0 <= time <= exchange.time, "order time")
    _check((expire_at is None) == (tif != "gtd") and (expire_at is None or expire_at > 0),
           "expire_at")  # fmt: skip
    _check((trigger is None) == (type_ not in STOP_TYPES) and (trigger is None or trigger > 0),
           "trigger")  # fmt: skip
    _check(order_id < exchange.next_order_id, "order id counter")  # (and no vast table gap)
    _check(exchange.orders.get(order_id) is None, "duplicate order id")
    order = Order(order_id, client_id, owner, exchange.owner(owner), market, side, type_, price,
                  qty, tif, post_only, stp, index, time, expire_at, trigger)  # fmt: skip
    order.remaining, order.filled, order.notional = remaining, filled, notional
    order.status = status
    if outcome is not None:
        _check(isinstance(outcome, list) and len(outcome) == 12, "order outcome")
        *head, trades, done_index, done_time = outcome
        _check(isinstance(trades, list), "outcome trades")
        fills = tuple(_trade(t) for t in trades)
        order.outcome = Done(*head, trades=fills, index=done_index, time=done_time)  # type: ignore[misc]
    return order


def _open(row: object, exchange: "Exchange", market: Market) -> Order:
    """An open order of ``market``: resting in its book or a stop waiting for its trigger;
    a gtd one expires after the exchange's time (``Exchange.advance`` left none due)."""
    order = _order(row, exchange)
    _check(order.market == market.symbol and order.remaining > 0, "open order")
    _check(order.expire_at is None or order.expire_at > exchange.time, "an order past its expiry")
    return order


def _resting(row: object, exchange: "Exchange", market: Market, is_bid: bool) -> Order:
    order = _open(row, exchange, market)
    _check(order.side == ("buy" if is_bid else "sell") and order.type in ("limit", "stop_limit")
           and order.tif in ("gtc", "gtd") and order.status in _OPEN, "resting order")  # fmt: skip
    return order


def _untriggered(row: object, exchange: "Exchange", market: Market) -> Order:
    """A stop waiting for its trigger, which the market's last price does not cross (it
    would have triggered)."""
    order = _open(row, exchange, market)
    trigger = order.trigger
    _check(order.status == UNTRIGGERED and trigger is not None and order.filled == 0
           and order.notional == 0, "untriggered stop")  # fmt: skip
    # it will still execute: its fields must make a submit the parser accepts
    parse_command({"op": "submit", "owner": order.owner, "market": order.market,
                   "side": order.side, "type": order.type, "price": order.price,
                   "qty": order.qty, "tif": order.tif, "post_only": order.post_only,
                   "stp": order.stp, "client_id": order.client_id,
                   "expire_at": order.expire_at, "trigger": trigger})  # fmt: skip
    assert trigger is not None
    last = market.last
    crossed = last > 0 and (last >= trigger if order.side == "buy" else last <= trigger)
    _check(not crossed, "an untriggered stop its market's last price crosses")
    return order


def _market(row: object, exchange: "Exchange") -> tuple[Market, list, list, list, list]:
    """A market from its row (with its last price and candles), and its rows of bids, asks,
    untriggered stops and trades."""
    symbol, base, quote, tick, lot, bids, asks, stops, trades, last, candles = _typed(
        row, (str, str, str, str, str, list, list, list, list, int, list), "market"
    )
    command = parse_command({"op": "create_market", "symbol": symbol, "base": base,
                             "quote": quote, "tick": tick, "lot": lot})  # fmt: skip
    _check(symbol not in exchange.markets and command is not None and last >= 0, "market")
    market = Market(symbol, base, quote, tick, lot, exchange.trade_history)
    market.last = last
    market.candles = Candles.from_json(candles)
    return market, bids, asks, stops, trades


def load(data: object, exchange: "Exchange") -> None:
    """Fill a fresh ``exchange`` with the state in ``data``."""
    if not isinstance(data, bytes) or not data.startswith(HEADER):
        raise InvalidInput("snapshot", "not a dex engine snapshot (version 3)")
    try:
        (history_limit, trade_history, next_order_id, next_trade_id, applied_index, time,
         markets, finished, money) = _typed(json.loads(data[len(HEADER):]),
                                            (int, int, int, int, int, int, list, list, list),
                                            "state")  # fmt: skip
        _check(min(history_limit, trade_history, next_order_id, next_trade_id) > 0, "settings")
        _check(applied_index >= 0 and time >= 0, "applied index or time")
        exchange.history_limit, exchange.trade_history = history_limit, trade_history
        exchange.next_order_id, exchange.next_trade_id = next_order_id, next_trade_id
        exchange.applied_index, exchange.time = applied_index, time
        _money(money, exchange)
        ledger = exchange.ledger
        for row in markets:
            market, bids, asks, stops, trades = _market(row, exchange)
            base, quote = ledger.asset(market.base), ledger.asset(market.quote)
            _check(base is not None and quote is not None, "market assets")
            assert base is not None and quote is not None
            _check(market.base_places() <= base.places, "base unit")
            _check(market.quote_places() <= quote.places, "quote unit")
            market.set_units(base, quote)
            exchange.markets[market.symbol] = market
            for side, rows in ((market.book.bids, bids), (market.book.asks, asks)):
                for order_row in rows:
                    order = _resting(order_row, exchange, market, side.is_bid)
                    side.rest(order)
                    _reopen(order, exchange, market)
            previous = 0
            for order_row in stops:
                order = _untriggered(order_row, exchange, market)
                _check(order.order_id > previous, "untriggered stops in order id order")
                previous = order.order_id
                assert order.trigger is not None
                if market.stops is None:
                    market.stops = Stops()
                market.stops.add(order.side == "buy", order.trigger, order.order_id)
                _reopen(order, exchange, market)
            market.trades.extend(_trade(t) for t in trades)
        for row in finished:
            order = _order(row, exchange)
            _check(order.status in (FILLED, CANCELLED, REJECTED), "finished order status")
            exchange.orders.put(order)
            exchange.history.append(order)
        for market in exchange.markets.values():
            bid, ask = market.book.bids.best, market.book.asks.best
            _check(bid is None or ask is None or bid < ask, "a crossed book")
            _check(all(t.trade_id < next_trade_id for t in market.trades), "trade id counter")
        _check(len(ledger.assets) == len({m.base for m in exchange.markets.values()}
                                          | {m.quote for m in exchange.markets.values()}),
               "assets without a market")  # fmt: skip
        _check_holds(exchange)
        _check_conserved(exchange)
        remembered = exchange.orders.values()  # by id
        for order in remembered:
            if order.client_id is not None:
                _check(order.client_id not in order.account.by_client, "duplicate client id")
                order.account.by_client[order.client_id] = order
    except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as exc:
        raise InvalidInput("snapshot", f"malformed: {exc}") from None


def _reopen(order: Order, exchange: "Exchange", market: Market) -> None:
    """Register a restored open order: its hold, the order table, its owner's open orders
    and, for a gtd order, the expiries."""
    if exchange.ledger.on:
        _holds(order, market)
    exchange.orders.put(order)
    order.account.add_open(order)
    if order.expire_at is not None:
        exchange.expiries.push(order.expire_at, order.order_id)


def _money(row: object, exchange: "Exchange") -> None:
    """The ledger and the accounts, from their rows (before the markets and orders)."""
    on, maker_bps, taker_bps, assets, grant, granted, fees, accounts = _typed(
        row, (bool, int, int, list, list, list, list, list), "money"
    )
    _check(0 <= maker_bps <= MAX_FEE_BPS and 0 <= taker_bps <= MAX_FEE_BPS, "fee rates")
    ledger = exchange.ledger
    for asset_row in assets:
        name, places = _typed(asset_row, (str, int), "asset")
        _check(0 <= places <= 40 and ledger.asset(name) is None, "asset")
        ledger.add_places(name, places)
    n = len(ledger.assets)
    ledger.on, ledger.maker_bps, ledger.taker_bps = on, maker_bps, taker_bps
    ledger.grant, ledger.granted = _amounts(grant, n), _amounts(granted, n)
    ledger.fee_account = [Balance(amount) for amount in _amounts(fees, n)]
    previous = ""
    for account_row in accounts:
        name, available, held = _typed(account_row, (str, list, list), "account")
        _check(on and name > previous, "accounts in order")
        previous = name
        account = exchange.owner(name)
        account.funded = True
        pairs = zip(_amounts(available, n), _amounts(held, n), strict=True)
        account.balances = [Balance(a, h) for a, h in pairs]


def _amounts(row: object, n: int) -> list[int]:
    """A list of ``n`` non-negative integers."""
    values = _typed(row, (int,) * n, "amounts")
    _check(all(value >= 0 for value in values), "a negative amount")
    return values


def _holds(order: Order, market: Market) -> None:
    """A restored open order's hold: a buy holds its price in quote per lot (a buy stop
    without a price nothing), a sell one lot of base (what ``Exchange._hold`` set when it
    was entered, and amends kept)."""
    balances = order.account.balances
    _check(order.account.funded, f"open orders without an account: {order.owner}")
    if order.side == "buy":
        order.hold, order.gets = balances[market.quote_id], balances[market.base_id]
        price = order.price
        order.hold_per_lot = 0 if price is None else price * market.quote_per_notional
    else:
        order.hold, order.gets = balances[market.base_id], balances[market.quote_id]
        order.hold_per_lot = market.base_per_lot


def _check_holds(exchange: "Exchange") -> None:
    """Every account holds exactly what its open orders (untriggered stops included) may
    still spend."""
    if not exchange.ledger.on:
        return
    for name, account in exchange.owners.items():
        _check(account.funded or not account.open, f"open orders without an account: {name}")
        if not account.funded:
            continue
        expected = [0] * len(account.balances)
        for order in account.open:
            market = exchange.markets[order.market]
            asset_id = market.quote_id if order.side == "buy" else market.base_id
            expected[asset_id] += order.remaining * order.hold_per_lot
        _check(expected == [b.held for b in account.balances], f"the holds of {name}")


def _check_conserved(exchange: "Exchange") -> None:
    """Every unit granted is in an account or the fee account, and nothing else is; an
    exchange never configured has granted nothing, taken no fees and has no fee rates."""
    ledger = exchange.ledger
    if not ledger.on:
        unused = not any(ledger.grant) and not any(ledger.granted) and not any(ledger.fees)
        _check(unused and ledger.maker_bps == ledger.taker_bps == 0, "money while money is off")
        return
    sums = list(ledger.fees)
    for account in exchange.owners.values():
        if account.funded:
            for asset_id, balance in enumerate(account.balances):
                sums[asset_id] += balance.available + balance.held
    _check(sums == ledger.granted, "balances that do not add up to what was granted")
