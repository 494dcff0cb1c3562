"""The exchange state machine: markets, books, orders, trades, and the rules that move them.

Pure and deterministic on purpose: no I/O, clocks, randomness or floats, and no iteration
over anything whose order depends on hashing. Every peer applies the same committed
commands in the same order to its own :class:`Exchange` and so holds the same state, which
:meth:`Exchange.digest` lets them prove.

Ids: order ids and trade ids are counters advanced by applying commands (1, 2, 3, ...), so
they follow from the log alone; each order and trade also records the log ``index`` of the
command that made it.

Idempotency: a submit whose (owner, client id) is already known returns the first
submit's :class:`Done` again (flagged ``duplicate``) and changes nothing. Finished orders
are remembered for the last ``history_limit`` of them (oldest forgotten first, a
deterministic rule), which is also the window in which a client id deduplicates.

Money (``engine.accounts``): once configured, every order holds what it can spend when it
is entered (a buy its price x qty of quote, a market buy without a price everything
available, a sell its qty of base), each fill settles both sides at the trade price and
gives the buyer back what it held above it, and whatever an order still holds when it
leaves the book (cancel, IOC remainder, rejection) is released. A trader without enough
is rejected with ``insufficient_funds``, naming the asset and the shortfall.

Time (``engine.triggers``): the exchange reads no clock; :meth:`Exchange.advance` hands it
each log entry's consensus time before the entry's commands, every event is stamped with
it, and it expires the good-till-date orders that are due. Stop orders wait, holding what
the order they become would hold, until the market's last trade price crosses their trigger;
then they execute, in order id order, within the command whose trade moved the price.

The matching loop is written for speed (locals instead of attribute chains, few calls per
order) and is typed so that mypyc can compile it; the rules it implements are spelled out
in ``docs/engine.md``.
"""

import hashlib
from heapq import heappop, heappush
from typing import Final

from . import snapshot
from .accounts import Asset, Balance, Ledger, parse_grant
from .book import BookSide
from .candles import Bar, Candles
from .commands import (
    Amend,
    Cancel,
    CancelAll,
    Command,
    Configure,
    CreateMarket,
    OpenAccount,
    Submit,
    Transfer,
)
from .errors import InvalidInput
from .events import (
    CANCEL_EXPIRED,
    CANCEL_SELF_TRADE,
    CANCEL_UNFILLED,
    CANCEL_USER,
    REJECT_FORBIDDEN,
    REJECT_INSUFFICIENT_FUNDS,
    REJECT_INVALID,
    REJECT_NOT_FOUND,
    REJECT_UNFILLABLE,
    REJECT_WOULD_CROSS,
    Accepted,
    AccountOpened,
    Amended,
    Cancelled,
    Configured,
    Done,
    Event,
    MarketCreated,
    Rejected,
    Trade,
    Transferred,
    Triggered,
)
from .markets import Market
from .orders import (
    CANCELLED,
    FILLED,
    PARTIALLY_FILLED,
    REJECTED,
    RESTING,
    UNTRIGGERED,
    Order,
    OrderTable,
    OrderView,
    Owner,
)
from .triggers import Schedule, Stops

DEFAULT_HISTORY_LIMIT: Final = 100_000
DEFAULT_TRADE_HISTORY: Final = 1_000
_FORGET_BATCH: Final = 64  # forgotten orders whose physical removal is done together


class Exchange:
    """Applies commands in log order; answers queries about the state they built."""

    def __init__(
        self, history_limit: int = DEFAULT_HISTORY_LIMIT, trade_history: int = DEFAULT_TRADE_HISTORY
    ) -> None:
        self.history_limit = history_limit
        self.trade_history = trade_history
        self.markets: dict[str, Market] = {}  # in creation order
        self.orders = OrderTable()  # open orders, and finished ones still remembered
        self.owners: dict[str, Owner] = {}
        # Finished orders, oldest first from ``history_head``: a list that grows to
        # ``history_limit`` and is then used as a ring (see ``_retire``).
        self.history: list[Order] = []
        self.history_head = 0
        # Orders just forgotten whose tables still hold them (see ``_retire``); empty
        # whenever control is outside ``apply``/``apply_batch``.
        self.forgotten: list[Order] = []
        self.next_order_id = 1
        self.next_trade_id = 1
        self.applied_index = 0
        self.time = 0  # consensus ms since the epoch, never decreasing (see ``advance``)
        self.expiries = Schedule()  # (expire_at, order id) of open gtd orders (lazy)
        self.ledger = Ledger()  # assets, grant, fees (balances are on the owners)

    # ------------------------------------------------------------------ applying

    def advance(self, time: int, index: int) -> list[Event]:
        """Hand the exchange the consensus ``time`` (ms) of the log entry at ``index``.

        The peer calls it once per entry, before the entry's commands (alone for an entry
        without any, such as the leader's time tick). Time never goes back: a lower ``time``
        leaves it as it was. Every good-till-date order whose ``expire_at`` is now at or
        before the time leaves as a cancel would (what it held released), in (expire_at,
        order id) order, each with a ``Cancelled`` (reason ``expired``) and its ``Done``;
        those are the events returned (usually none, found in O(1)).
        """
        if index < self.applied_index:
            raise ValueError(f"index {index} is behind applied index {self.applied_index}")
        self.applied_index = index
        if time > self.time:
            self.time = time
        events: list[Event] = []
        if self.expiries.due(self.time):
            self._expire(events)
            if self.forgotten:
                self._forget()
        return events

    def next_expiry(self) -> int | None:
        """The earliest ``expire_at`` of an open (or untriggered) gtd order, or None: when
        the leader should propose a time tick even if nothing else happens."""
        return self.expiries.first(self._expiring)

    def apply_batch(self, commands: list[Command], index: int) -> list[list[Event]]:
        """Apply the commands of one log entry (all at ``index``), in order.

        The node's entry point: one call per log entry keeps the per-command loop in
        compiled code. Returns each command's events.
        """
        self._warm(commands)
        # self._apply, not a bound method in a local: compiled, that is a direct call
        events = [self._apply(command, index) for command in commands]
        if self.forgotten:
            self._forget()
        return events

    def _warm(self, commands: list[Command]) -> int:
        """Read the cold memory the batch will need, before applying any command.

        With many resting orders, a cancel follows a chain of cold objects (the order-table
        slot, the order, its price level, its slot in its owner's open list), a submit
        probes its owner's large client-id table, and once the history is full every
        finished order pushes out a long-finished one, freed with its ``Done`` at the end
        of the batch. Met one command at a time, each of those cache misses waits alone;
        read here for the whole batch in a tight loop, the processor overlaps them, and
        the commands then find their memory cached (measured: about a tenth faster with
        100,000 resting orders, no slower without).

        Reads only: nothing changes. Returns how many of those objects it found, a count
        nothing needs but that keeps every read used.
        """
        found = 0
        orders = self.orders
        owners = self.owners
        for command in commands:
            if isinstance(command, Submit):
                account = owners.get(command.owner)
                client_id = command.client_id
                if account is not None and client_id is not None and client_id in account.by_client:
                    found += 1
            elif isinstance(command, Cancel) and command.order_id is not None:
                order = orders.get(command.order_id)
                if order is not None and order.live:
                    level = order.level
                    if (
                        level is not None
                        and level.count
                        and order.account.open[order.slot] is order
                    ):
                        found += 1
        history = self.history
        if history and len(history) >= self.history_limit:  # full: a ring (see _retire)
            head = self.history_head
            n = len(history)
            for _ in commands:  # mostly at most one order is forgotten per command
                if history[head].outcome is not None:
                    found += 1
                head += 1
                if head == n:
                    head = 0
        return found

    def apply(self, command: Command, index: int) -> list[Event]:
        """Apply one command found at log position ``index``; return what happened.

        ``index`` never decreases (several commands may share one when a log entry
        carries a batch).
        """
        events = self._apply(command, index)
        if self.forgotten:
            self._forget()
        return events

    def _apply(self, command: Command, index: int) -> list[Event]:
        """``apply`` but for forgetting orders, which the caller finishes (``_forget``)."""
        if index < self.applied_index:
            raise ValueError(f"index {index} is behind applied index {self.applied_index}")
        self.applied_index = index
        events: list[Event] = []
        # isinstance chain rather than a dict of handlers: cheaper once compiled, and the
        # common commands come first.
        if isinstance(command, Submit):
            self._submit(command, index, events)
        elif isinstance(command, Cancel):
            self._cancel(command, index, events)
        elif isinstance(command, Amend):
            self._amend(command, index, events)
        elif isinstance(command, CancelAll):
            self._cancel_all(command, index, events)
        elif isinstance(command, Transfer):
            self._transfer(command, index, events)
        elif isinstance(command, OpenAccount):
            self._open_account(command, index, events)
        elif isinstance(command, CreateMarket):
            self._create_market(command, index, events)
        elif isinstance(command, Configure):
            self._configure(command, index, events)
        else:
            raise TypeError(f"not a command: {command!r}")
        return events

    def _create_market(self, cmd: CreateMarket, index: int, events: list) -> None:
        market = Market(cmd.symbol, cmd.base, cmd.quote, cmd.tick, cmd.lot, self.trade_history)
        ledger = self.ledger
        problem = ""
        if cmd.symbol in self.markets:
            problem = f"symbol: market {cmd.symbol} already exists"
        elif cmd.base == cmd.quote:
            problem = "quote: must differ from the base asset"
        elif why := ledger.need_places(cmd.base, market.base_places()):
            problem = f"lot: {why}"
        elif why := ledger.need_places(
            cmd.quote, market.quote_places(), 1 if ledger.asset(cmd.base) is None else 0
        ):
            problem = f"tick: {why}"
        if problem:
            events.append(
                Rejected("create_market", None, None, "", REJECT_INVALID, problem, index, self.time)
            )
            return
        for name, places in ((cmd.base, market.base_places()), (cmd.quote, market.quote_places())):
            _, new = ledger.add_places(name, places)
            if new:  # every account gets a zero balance of it
                for account in self.owners.values():
                    if account.funded:
                        account.balances.append(Balance())
        self.markets[cmd.symbol] = market
        for each in self.markets.values():  # an asset's unit may have become finer
            each.set_units(ledger.by_name[each.base], ledger.by_name[each.quote])
        events.append(
            MarketCreated(cmd.symbol, cmd.base, cmd.quote, cmd.tick, cmd.lot, index, self.time)
        )

    def _configure(self, cmd: Configure, index: int, events: list) -> None:
        ledger = self.ledger
        problem = ""
        grant = [0] * len(ledger.assets)
        if ledger.on:
            problem = "grant: the exchange holds money already"
        elif self.next_order_id > 1:
            problem = "grant: orders were entered before money was turned on"
        else:
            try:
                for name, amount in parse_grant(cmd.grant):
                    asset = ledger.asset(name)
                    if asset is None:
                        raise InvalidInput("grant", f"no market trades {name}")
                    grant[asset.asset_id] = asset.units(amount, f"grant {name}")
            except InvalidInput as error:
                problem = str(error)
        if problem:
            events.append(
                Rejected("configure", None, None, "", REJECT_INVALID, problem, index, self.time)
            )
            return
        ledger.on = True
        ledger.grant = grant
        ledger.maker_bps, ledger.taker_bps = cmd.maker_fee_bps, cmd.taker_fee_bps
        granted = tuple((asset.name, grant[asset.asset_id]) for asset in ledger.assets)
        events.append(Configured(granted, cmd.maker_fee_bps, cmd.taker_fee_bps, index, self.time))

    def _open_account(self, cmd: OpenAccount, index: int, events: list) -> None:
        ledger = self.ledger
        account = self.owner(cmd.owner)
        problem = ""
        if not ledger.on:
            problem = "owner: this exchange holds no money (it was never configured)"
        elif account.funded:
            problem = f"owner: {cmd.owner} has an account already"
        if problem:
            events.append(
                Rejected(
                    "open_account", None, None, cmd.owner, REJECT_INVALID, problem, index, self.time
                )
            )
            return
        account.funded = True
        account.balances = [Balance(amount) for amount in ledger.grant]
        for asset_id, amount in enumerate(ledger.grant):
            ledger.granted[asset_id] += amount
        events.append(AccountOpened(cmd.owner, index, self.time))

    def _transfer(self, cmd: Transfer, index: int, events: list) -> None:
        sender = self.owners.get(cmd.owner)
        receiver = self.owners.get(cmd.to)
        asset = self.ledger.asset(cmd.asset)
        code, problem = REJECT_INVALID, ""
        if sender is None or not sender.funded:
            problem = f"owner: {cmd.owner} has no account"
        elif asset is None:
            problem = f"asset: unknown asset {cmd.asset}"
        elif receiver is None or not receiver.funded:
            code, problem = REJECT_NOT_FOUND, f"to: no trader named {cmd.to}"
        elif receiver is sender:
            problem = "to: a transfer to oneself changes nothing"
        elif sender.balances[asset.asset_id].available < cmd.amount:
            code = REJECT_INSUFFICIENT_FUNDS
            problem = _shortfall(asset, cmd.amount, sender.balances[asset.asset_id].available)
        if problem:
            events.append(
                Rejected("transfer", None, None, cmd.owner, code, problem, index, self.time)
            )
            return
        assert asset is not None and sender is not None and receiver is not None
        sender.balances[asset.asset_id].available -= cmd.amount
        receiver.balances[asset.asset_id].available += cmd.amount
        events.append(Transferred(cmd.owner, cmd.to, cmd.asset, cmd.amount, index, self.time))

    def _submit(self, cmd: Submit, index: int, events: list) -> None:
        owner, client_id = cmd.owner, cmd.client_id
        account = self.owner(owner)
        order_id = self.next_order_id
        order = Order(
            order_id,
            client_id,
            owner,
            account,
            cmd.market,
            cmd.side,
            cmd.type,
            cmd.price,
            cmd.qty,
            cmd.tif,
            cmd.post_only,
            cmd.stp,
            index,
            self.time,
            cmd.expire_at,
            cmd.trigger,
        )
        if client_id is not None:  # one lookup both finds a duplicate and registers this one
            prior = account.by_client.setdefault(client_id, order)
            if prior is not order and self._is_forgotten(prior):
                account.by_client[client_id] = prior = order  # forgotten in this batch
            if prior is not order:
                assert prior.outcome is not None  # every submitted order has one
                events.append(prior.outcome._replace(duplicate=True))
                return
        self.next_order_id = order_id + 1
        self.orders.put(order)
        market = self.markets.get(cmd.market)
        if market is None:
            self._reject(order, REJECT_INVALID, f"market: unknown market {cmd.market}", events)
            return
        timed = order.expire_at is not None or order.trigger is not None
        if timed and self._untimely(order, events):
            return
        is_buy = order.side == "buy"
        if self.ledger.on:
            code, problem = self._hold(order, is_buy, market, account)
            if problem:
                self._reject(order, code, problem, events)
                return
        events.append(
            Accepted(
                order_id,
                client_id,
                owner,
                order.market,
                order.side,
                order.type,
                order.price,
                order.qty,
                index,
                self.time,
            )
        )
        if timed:
            self._enter_timed(order, is_buy, market, events)
        else:  # (what _sides does, inline on the hot path: no call, no tuple)
            book = market.book
            if is_buy:
                self._execute(order, market, book.bids, book.asks, events)
            else:
                self._execute(order, market, book.asks, book.bids, events)
        if market.stops is not None:
            self._fire_stops(market, events)

    def _untimely(self, order: Order, events: list) -> bool:
        """Reject a gtd order whose ``expire_at`` is not after the exchange's time (True);
        otherwise mark a stop as waiting for its trigger (what ``_hold`` holds depends on it)."""
        expire_at = order.expire_at
        if expire_at is not None and expire_at <= self.time:
            reason = f"expire_at: {expire_at} is not after the exchange's time {self.time}"
            self._reject(order, REJECT_INVALID, reason, events)
            return True
        if order.trigger is not None:
            order.status = UNTRIGGERED
        return False

    def _enter_timed(self, order: Order, is_buy: bool, market: Market, events: list) -> None:
        """A stop triggers at once if the market's last price crosses it, or waits (in its
        owner's open orders and the market's stops); a gtd order still open then joins the
        expiries (only then: cleaning them keeps only open orders)."""
        trigger = order.trigger
        if trigger is None:
            own, opposite = _sides(market, is_buy)
            self._execute(order, market, own, opposite, events)
        elif _crosses(is_buy, trigger, market.last):
            self._trigger(order, market, market.last, events)
        else:
            order.account.add_open(order)
            self._wait(order, is_buy, market, trigger)
            self._finish(order, None, (), events)
        expire_at = order.expire_at
        if expire_at is not None and (order.live or order.status == UNTRIGGERED):
            self._schedule_expiry(expire_at, order.order_id)

    def _schedule_expiry(self, expire_at: int, order_id: int) -> None:
        """Add an open gtd order to the expiries (dropping their stale entries when due)."""
        if self.expiries.push(expire_at, order_id):
            self.expiries.clean(self._expiring)

    def _wait(self, order: Order, is_buy: bool, market: Market, trigger: int) -> None:
        """Put a stop among its market's untriggered stops, at ``trigger``."""
        stops = market.stops
        if stops is None:
            stops = market.stops = Stops()
        if stops.add(is_buy, trigger, order.order_id):
            stops.clean(self._armed)

    def _fire_stops(self, market: Market, events: list) -> None:
        """Trigger every stop of ``market`` its last trade price crosses, in order id order,
        and go on with those the triggered orders' own trades cross, until none is.

        A stop crossed once is triggered even if a stop before it moves the price back.
        Nothing crossed (the usual case) is found in O(1)."""
        stops = market.stops
        assert stops is not None
        last = market.last
        if not stops.crossed(last):
            return
        pending: list[tuple[int, int]] = []  # (order id, the price that crossed it): a heap
        self._collect(stops, last, pending)
        while pending:
            order_id, crossed_at = heappop(pending)
            order = self.orders.get(order_id)
            assert order is not None  # it is open
            if order.status != UNTRIGGERED:
                continue  # collected twice (a trigger amended away and back)
            order.account.remove_open(order)  # as a fresh order it joins them again if it rests
            self._trigger(order, market, crossed_at, events)
            if market.last != last:
                last = market.last
                self._collect(stops, last, pending)

    def _collect(self, stops: Stops, last: int, pending: list[tuple[int, int]]) -> None:
        """Move every stop ``last`` crosses off ``stops`` into ``pending``."""
        while True:
            entry = stops.pop_crossed(last)
            if entry is None:
                return
            trigger, order_id = entry
            if self._armed(trigger, order_id):
                heappush(pending, (order_id, last))

    def _trigger(self, order: Order, market: Market, last: int, events: list) -> None:
        """A stop crossed by ``last`` executes as the market or limit order it becomes, now."""
        trigger = order.trigger
        assert trigger is not None
        is_buy = order.side == "buy"
        order.status = RESTING
        order.index, order.time = self.applied_index, self.time
        events.append(Triggered(order.order_id, order.client_id, order.owner, order.market,
                                order.side, trigger, last, order.index, self.time))  # fmt: skip
        if self.ledger.on and is_buy and order.price is None:  # it held nothing until now
            code, problem = self._hold(order, is_buy, market, order.account)
            if problem:
                self._reject(order, code, problem, events)
                return
        own, opposite = _sides(market, is_buy)
        self._execute(order, market, own, opposite, events)

    def _expire(self, events: list) -> None:
        """Cancel every gtd order due at the exchange's time, in (expire_at, order id) order."""
        expiries = self.expiries
        while expiries.due(self.time):
            expire_at, order_id = expiries.pop()
            if self._expiring(expire_at, order_id):
                order = self.orders[order_id]
                self._unlink(order)
                self._cancel_order(order, CANCEL_EXPIRED, self.applied_index, events)
                self._finish(order, CANCEL_EXPIRED, (), events)

    def _expiring(self, expire_at: int, order_id: int) -> bool:
        """Whether order ``order_id`` is open and expires at ``expire_at`` (else its entry in
        the expiries is stale)."""
        order = self.orders.get(order_id)
        return (
            order is not None
            and (order.live or order.status == UNTRIGGERED)
            and order.expire_at == expire_at
        )

    def _armed(self, trigger: int, order_id: int) -> bool:
        """Whether order ``order_id`` is a stop waiting at ``trigger`` (else its entry among
        the stops is stale)."""
        order = self.orders.get(order_id)
        return order is not None and order.status == UNTRIGGERED and order.trigger == trigger

    def _execute(
        self, order: Order, market: Market, own: BookSide, opposite: BookSide, events: list
    ) -> None:
        """Match an incoming (or re-priced) order, then rest or drop what is left."""
        limit = order.price
        best = opposite.best
        crosses = best is not None and (
            limit is None or (best <= limit if order.side == "buy" else best >= limit)
        )
        if crosses and order.post_only:
            self._release(order)
            self._reject(
                order, REJECT_WOULD_CROSS, "post_only: the order would take liquidity", events
            )
            return
        if order.tif == "fok" and self._fillable(order, market, opposite) < order.remaining:
            self._release(order)
            self._reject(
                order, REJECT_UNFILLABLE, "tif: fill-or-kill order cannot be filled in full", events
            )
            return
        fills: tuple[Trade, ...] = ()
        stopped_by_stp = False
        if crosses:
            trades: list[Trade] = []
            stopped_by_stp = self._match(order, market, opposite, trades, events)
            fills = tuple(trades)
        reason = None
        tif = order.tif
        if order.remaining == 0:
            order.status = FILLED
            if order.budget:  # a market buy's unspent budget
                self._release(order)
            self._retire(order)
        elif stopped_by_stp or (tif != "gtc" and tif != "gtd"):
            self._release(order)
            reason = CANCEL_SELF_TRADE if stopped_by_stp else CANCEL_UNFILLED
            order.status = CANCELLED
            events.append(
                Cancelled(
                    order.order_id,
                    order.owner,
                    order.market,
                    order.remaining,
                    reason,
                    order.index,
                    self.time,
                )
            )
            self._retire(order)
        else:
            order.status = PARTIALLY_FILLED if order.filled else RESTING
            own.rest(order)
            order.account.add_open(order)
        self._finish(order, reason, fills, events)

    def _match(
        self, taker: Order, market: Market, side: BookSide, trades: list, events: list
    ) -> bool:
        """Fill ``taker`` against ``side`` in price-time priority.

        Returns True when self-trade prevention stopped the taker (its rest is cancelled).

        Money (when on) settles at each fill's price: the maker's side at once (it delivers
        out of its hold and receives the other asset, less the maker fee), the taker's side
        summed over its fills and applied once at the end (``_settle_taker``). Nothing
        reads a balance in between, so that is the same as settling both sides fill by
        fill, but with fewer updates; fees are still computed, and rounded down, per fill.
        """
        is_buy = taker.side == "buy"
        limit = taker.price
        bounded = limit is not None  # (a native copy: ``limit`` is a boxed int | None)
        bound = 0 if limit is None else limit
        owner = taker.owner
        stp = taker.stp
        taker_id = taker.order_id
        index = taker.index
        time = self.time
        symbol = market.symbol
        tape = market.trades
        candles: Candles = market.candles
        last = 0  # the price of the last fill
        remaining = taker.remaining
        filled = notional = 0
        stopped = False
        ledger = self.ledger
        money = ledger.on
        # a market buy without a price spends at most its budget (what was available)
        budgeted = money and is_buy and limit is None
        budget = taker.budget
        quote_per_notional = market.quote_per_notional
        base_per_lot = market.base_per_lot
        maker_bps, taker_bps = ledger.maker_bps, ledger.taker_bps
        maker_fees = taker_fees = 0  # this match's, in the asset each side receives
        broke = False
        while remaining:
            level = side.best_level  # (the level at side.best, without a dict lookup)
            if level is None:
                break
            price = level.price
            if bounded and (price > bound if is_buy else price < bound):
                break
            queue = level.orders
            head = level.head  # the level's queue starts here
            while remaining:
                maker = queue[head]
                if not maker.live:
                    head += 1
                    level.dead -= 1
                    continue
                if maker.owner == owner and stp != "none":
                    if stp != "cancel_taker":  # cancel_maker, cancel_both
                        head += 1
                        maker.live = False
                        maker.level = None
                        level.qty -= maker.remaining
                        level.count -= 1
                        maker.account.remove_open(maker)
                        self._cancel_order(maker, CANCEL_SELF_TRADE, index, events)
                    if stp != "cancel_maker":  # cancel_taker, cancel_both
                        stopped = True
                        break
                    if level.count == 0:
                        break
                    continue
                maker_left = maker.remaining
                fill = remaining if remaining < maker_left else maker_left
                if budgeted:
                    afford = budget // (price * quote_per_notional)
                    if afford < fill:
                        fill = afford
                        if fill == 0:
                            broke = True
                            break
                if money:  # the maker's side of the fill (the taker's: _settle_taker)
                    quote_amount = fill * price * quote_per_notional
                    base_amount = fill * base_per_lot
                    held, gets = maker.hold, maker.gets
                    assert held is not None and gets is not None  # it holds (see _hold)
                    if is_buy:  # the maker sells: base out of its hold, quote in
                        held.held -= base_amount
                        fee = quote_amount * maker_bps // 10_000 if maker_bps else 0
                        gets.available += quote_amount - fee
                        if taker_bps:
                            taker_fees += base_amount * taker_bps // 10_000
                        budget -= quote_amount
                    else:  # it buys at its own price: pays exactly what it held for them
                        held.held -= quote_amount
                        fee = base_amount * maker_bps // 10_000 if maker_bps else 0
                        gets.available += base_amount - fee
                        if taker_bps:
                            taker_fees += quote_amount * taker_bps // 10_000
                    maker_fees += fee
                remaining -= fill
                maker_left -= fill
                maker.remaining = maker_left
                maker.filled += fill
                maker.notional += fill * price
                level.qty -= fill
                filled += fill
                notional += fill * price
                trade_id = self.next_trade_id
                self.next_trade_id = trade_id + 1
                trade = Trade(
                    trade_id,
                    symbol,
                    price,
                    fill,
                    taker.side,
                    maker.order_id,
                    taker_id,
                    maker.owner,
                    owner,
                    maker_left,
                    index,
                    time,
                )
                events.append(trade)
                trades.append(trade)
                tape.append(trade)
                candles.trade(time, price, fill)
                last = price
                if maker_left:
                    maker.status = PARTIALLY_FILLED
                else:
                    head += 1
                    level.count -= 1
                    maker.live = False
                    maker.level = None
                    maker.status = FILLED
                    maker.account.remove_open(maker)
                    self._retire(maker)
                    if level.count == 0:
                        break
            if level.count == 0:
                side.drop_level(price)
            else:
                level.advance(head)
            if stopped or broke:
                break
        taker.remaining = remaining
        taker.filled += filled
        taker.notional += notional
        if last:
            market.last = last
        if money and filled:
            self._settle_taker(taker, is_buy, market, filled, notional, budget, taker_fees,
                               maker_fees)  # fmt: skip
        return stopped

    def _fillable(self, taker: Order, market: Market, side: BookSide) -> int:
        """How much of ``taker`` would fill right now (for fill-or-kill), stopping early.

        Walks levels, and orders within a level only when self-trade prevention could
        change the answer; the walk is no longer than the fill it stands for. A market buy
        without a price stops where its budget would (``_match``).
        """
        need = taker.remaining
        limit = taker.price
        is_buy = taker.side == "buy"
        check_stp = taker.stp != "none"
        budgeted = self.ledger.on and is_buy and limit is None
        budget = taker.budget
        total = 0
        for price in side.prices(side.keys.size):  # (FOK is rare: a list of them will do)
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            level = side.levels[price]
            lot_cost = price * market.quote_per_notional
            if not check_stp:
                take = level.qty
                if budgeted and budget // lot_cost < take:
                    return total + budget // lot_cost
                budget -= take * lot_cost
                total += take
            else:
                for maker in level.orders:
                    if not maker.live:
                        continue
                    if maker.owner == taker.owner:
                        if taker.stp != "cancel_maker":
                            return total  # the taker would be cancelled here
                        continue
                    take = maker.remaining
                    if budgeted and budget // lot_cost < take:
                        return total + budget // lot_cost
                    budget -= take * lot_cost
                    total += take
                    if total >= need:
                        return total
            if total >= need:
                break
        return total

    # ------------------------------------------------------------------ money

    def _hold(self, order: Order, is_buy: bool, market: Market, account: Owner) -> tuple[str, str]:
        """Hold what a new order can spend: ("", "") or the rejection's (code, reason)."""
        if not account.funded:
            return REJECT_INVALID, f"owner: {order.owner} has no account"
        balances = account.balances
        if is_buy:
            hold, gets = balances[market.quote_id], balances[market.base_id]
            price = order.price
            if price is None:  # a market buy without a price: all that is available
                per = 0
                if order.status == UNTRIGGERED:  # a buy stop: nothing until it triggers
                    need = 0
                else:
                    need = hold.available
                    if need == 0:
                        asset = self.ledger.assets[market.quote_id]
                        return REJECT_INSUFFICIENT_FUNDS, f"{asset.name}: none available"
                    order.budget = need
            else:
                per = price * market.quote_per_notional
                need = order.qty * per
        else:
            hold, gets = balances[market.base_id], balances[market.quote_id]
            per = market.base_per_lot
            need = order.qty * per
        have = hold.available
        if have < need:
            asset = self.ledger.assets[market.quote_id if is_buy else market.base_id]
            return REJECT_INSUFFICIENT_FUNDS, _shortfall(asset, need, have)
        hold.available = have - need
        hold.held += need
        order.hold, order.gets = hold, gets
        order.hold_per_lot = per
        return "", ""

    def _release(self, order: Order) -> None:
        """Give back what an order leaving the book still holds (nothing without money)."""
        amount = order.remaining * order.hold_per_lot + order.budget
        if amount:
            hold = order.hold
            assert hold is not None  # it held something
            hold.held -= amount
            hold.available += amount
            order.budget = 0

    def _settle_taker(
        self,
        taker: Order,
        is_buy: bool,
        market: Market,
        filled: int,
        notional: int,
        budget: int,
        taker_fees: int,
        maker_fees: int,
    ) -> None:
        """The taker's side of the fills of one match (``filled`` lots for ``notional``
        ticks x lots), and both sides' fees into the fee account. A buyer pays out of its
        hold and gets back what it held above the trade prices (a budget is spent instead);
        a seller delivers out of its hold; each receives the other asset less its fees."""
        held, gets = taker.hold, taker.gets
        assert held is not None and gets is not None  # it holds (see _hold)
        base = filled * market.base_per_lot
        quote = notional * market.quote_per_notional
        fees = self.ledger.fee_account
        if is_buy:
            per = taker.hold_per_lot
            if per:
                spent = filled * per
                held.held -= spent
                held.available += spent - quote
            else:  # a market buy spending its budget
                taker.budget = budget
                held.held -= quote
            gets.available += base - taker_fees
            base_fees, quote_fees = taker_fees, maker_fees
        else:
            held.held -= base
            gets.available += quote - taker_fees
            base_fees, quote_fees = maker_fees, taker_fees
        if base_fees:
            fees[market.base_id].available += base_fees
        if quote_fees:
            fees[market.quote_id].available += quote_fees

    def _cancel(self, cmd: Cancel, index: int, events: list) -> None:
        if cmd.order_id is not None:
            found = self.orders.get(cmd.order_id)
        else:
            account = self.owners.get(cmd.owner)
            found = None if account is None else account.by_client.get(cmd.client_id or "")
        order = self._own_open_order("cancel", found, cmd, index, events)
        if order is not None:
            self._unlink(order)
            self._cancel_order(order, CANCEL_USER, index, events)

    def _cancel_all(self, cmd: CancelAll, index: int, events: list) -> None:
        if cmd.market is not None and cmd.market not in self.markets:
            reason = f"market: unknown market {cmd.market}"
            events.append(
                Rejected(
                    "cancel_all", None, None, cmd.owner, REJECT_INVALID, reason, index, self.time
                )
            )
            return
        account = self.owners.get(cmd.owner)
        for order in [] if account is None else account.open_by_id():
            if cmd.market is None or order.market == cmd.market:
                self._unlink(order)
                self._cancel_order(order, CANCEL_USER, index, events)

    def _amend(self, cmd: Amend, index: int, events: list) -> None:
        found = self.orders.get(cmd.order_id)
        order = self._own_open_order("amend", found, cmd, index, events)
        if order is None:
            return
        if not order.live:  # open but in no book: a stop waiting for its trigger
            self._amend_stop(order, cmd, index, events)
            return
        old_price = order.price
        assert old_price is not None  # only limit orders rest
        qty = order.qty if cmd.qty is None else cmd.qty
        price = old_price if cmd.price is None else cmd.price
        market = self.markets[order.market]
        own, opposite = _sides(market, order.side == "buy")
        best = opposite.best
        code, problem = REJECT_INVALID, ""
        if cmd.trigger is not None:
            problem = f"trigger: order {order.order_id} is not a stop waiting for its trigger"
        elif qty <= order.filled:
            problem = f"qty: must be above the filled quantity {order.filled}"
        elif qty == order.qty and price == old_price:
            problem = "qty: nothing to change"
        elif (
            order.post_only
            and best is not None
            and (best <= price if order.side == "buy" else best >= price)
        ):
            code, problem = REJECT_WOULD_CROSS, "price: a post-only order would take liquidity"
        else:  # money: hold the difference, or give it back
            code, problem = self._rehold(order, market, qty - order.filled, price)
        if problem:
            self._refuse_amend(order, code, problem, index, events)
            return
        keeps_place = price == old_price and qty < order.qty
        if keeps_place:  # smaller at the same price: reduce in place
            assert order.level is not None
            order.level.qty -= order.qty - qty
        else:  # re-queue: out of the book now, back in (or matched) below
            self._unlink(order)
            order = self._successor(order, index)
        order.qty, order.price, order.remaining = qty, price, qty - order.filled
        events.append(
            Amended(order.order_id, order.owner, order.market, price, qty, order.remaining,
                    keeps_place, order.trigger, index, self.time)
        )  # fmt: skip
        if not keeps_place:
            self._execute(order, market, own, opposite, events)
            if market.stops is not None:
                self._fire_stops(market, events)

    def _amend_stop(self, order: Order, cmd: Amend, index: int, events: list) -> None:
        """Amend a stop waiting for its trigger: quantity, price and trigger, holds adjusted.

        It keeps its place (stops trigger in order id order); a new trigger the last price
        already crosses triggers it at once, as on entry."""
        qty = order.qty if cmd.qty is None else cmd.qty
        price = order.price if cmd.price is None else cmd.price
        trigger = order.trigger if cmd.trigger is None else cmd.trigger
        assert trigger is not None  # a stop
        market = self.markets[order.market]
        code, problem = REJECT_INVALID, ""
        if qty == order.qty and price == order.price and trigger == order.trigger:
            problem = "qty: nothing to change"
        else:
            code, problem = self._rehold(order, market, qty, price)
        if problem:
            self._refuse_amend(order, code, problem, index, events)
            return
        moved = trigger != order.trigger
        order.qty = order.remaining = qty
        order.price, order.trigger = price, trigger
        events.append(Amended(order.order_id, order.owner, order.market, price, qty, qty, True,
                              trigger, index, self.time))  # fmt: skip
        is_buy = order.side == "buy"
        if _crosses(is_buy, trigger, market.last):
            order.account.remove_open(order)
            self._trigger(order, market, market.last, events)
            self._fire_stops(market, events)
        elif moved:
            self._wait(order, is_buy, market, trigger)

    def _refuse_amend(
        self, order: Order, code: str, problem: str, index: int, events: list
    ) -> None:
        events.append(
            Rejected("amend", order.order_id, order.client_id, order.owner, code, problem, index,
                     self.time)
        )  # fmt: skip

    def _rehold(self, order: Order, market: Market, remaining: int, price: int | None
                ) -> tuple[str, str]:  # fmt: skip
        """Hold for ``remaining`` lots at ``price`` instead of what the order holds now: more
        needs the difference available, less gives it back (a sell's hold does not depend on
        its price, a buy stop without a price holds nothing). ("", "") or the refusal, which
        changes nothing; nothing to do without money."""
        hold = order.hold
        if hold is None:
            return "", ""
        is_buy = order.side == "buy"
        per = order.hold_per_lot
        if is_buy:
            per = 0 if price is None else price * market.quote_per_notional
        delta = remaining * per - order.remaining * order.hold_per_lot
        have = hold.available
        if delta > have:
            asset = self.ledger.assets[market.quote_id if is_buy else market.base_id]
            return REJECT_INSUFFICIENT_FUNDS, _shortfall(asset, delta, have)
        hold.available = have - delta
        hold.held += delta
        order.hold_per_lot = per
        return "", ""

    def _successor(self, order: Order, index: int) -> Order:
        """A fresh object for an order that loses its place (same id, same everything).

        The old object stays behind, dead, in its level's queue: cancellation is lazy, so
        a queue entry must never come back to life by its order resting again.
        """
        new = Order(order.order_id, order.client_id, order.owner, order.account, order.market,
                    order.side, order.type, order.price, order.qty, order.tif,
                    order.post_only, order.stp, index, self.time, order.expire_at,
                    order.trigger)  # fmt: skip
        new.filled, new.notional, new.status = order.filled, order.notional, order.status
        new.hold, new.gets, new.hold_per_lot = order.hold, order.gets, order.hold_per_lot
        new.outcome = order.outcome
        self.orders.put(new)
        if order.client_id is not None:
            order.account.by_client[order.client_id] = new
        return new

    def _own_open_order(
        self, op: str, order: Order | None, cmd: Cancel | Amend, index: int, events: list
    ) -> Order | None:
        """``order`` if it is open and the command owner's; otherwise reject, None."""
        owner = cmd.owner
        is_open = order is not None and (order.live or order.status == UNTRIGGERED)
        if is_open and order is not None and order.owner == owner:
            return order
        order_id: int | None = None
        if order is None or not is_open:
            code = REJECT_NOT_FOUND
            if isinstance(cmd, Cancel) and cmd.order_id is None:
                reason = f"client_id: no open order with client id {cmd.client_id}"
            else:
                reason = f"order_id: no open order {cmd.order_id}"
        else:
            code, reason = REJECT_FORBIDDEN, f"order_id: order {order.order_id} is not yours"
            order_id = order.order_id
        events.append(Rejected(op, order_id, None, owner, code, reason, index, self.time))
        return None

    # ------------------------------------------------------------------ helpers

    def owner(self, name: str) -> Owner:
        """The orders of trader ``name`` (an empty record the first time)."""
        account = self.owners.get(name)
        if account is None:
            account = self.owners[name] = Owner()
        return account

    def _unlink(self, order: Order) -> None:
        """Take an open order out of its book (an untriggered stop is in none) and its
        owner's open orders."""
        level = order.level
        if level is not None:
            level.side.unlink(order)
        order.account.remove_open(order)

    def _cancel_order(self, order: Order, reason: str, index: int, events: list) -> None:
        """Finish an order already out of the book as cancelled."""
        self._release(order)
        order.status = CANCELLED
        events.append(
            Cancelled(
                order.order_id, order.owner, order.market, order.remaining, reason, index, self.time
            )
        )
        self._retire(order)

    def _reject(self, order: Order, code: str, reason: str, events: list) -> None:
        order.status = REJECTED
        events.append(
            Rejected(
                "submit",
                order.order_id,
                order.client_id,
                order.owner,
                code,
                reason,
                order.index,
                self.time,
            )
        )
        self._retire(order)
        self._finish(order, reason, (), events)

    def _finish(self, order: Order, reason: str | None, trades: tuple, events: list) -> None:
        """Emit the Done of a submit (or re-price, trigger, expiry) at the command's index and
        time, and keep a submit's for duplicate submits."""
        done = Done(
            order.order_id,
            order.client_id,
            order.owner,
            order.market,
            order.status,
            reason,
            order.filled,
            order.remaining,
            order.notional,
            trades,
            self.applied_index,
            self.time,
            False,
        )
        if order.outcome is None:
            order.outcome = done
        events.append(done)

    def _retire(self, order: Order) -> None:
        """Remember a finished order; forget the oldest beyond ``history_limit``.

        Once full, the history is a ring: the newest order takes the oldest one's slot,
        so remembering costs a list store rather than a deque append and pop.

        Forgetting is logically immediate (the order leaves the ring here) but its
        physical work, taking it out of the order table and its owner's client ids and
        freeing it with its ``Done`` and trades, waits in ``forgotten`` until the end of
        the command batch (``_forget``). That work is mostly cache misses on long-cold
        objects; done one order at a time between commands, each miss waits alone, done
        for many orders in a row the processor overlaps them. Until then the only lookup
        that could still meet a forgotten order and behave differently is the duplicate
        check of a submit, which asks ``_is_forgotten``; a forgotten order is never live,
        so cancels and amends reject it exactly as they reject an unknown one.
        """
        history = self.history
        if len(history) < self.history_limit:
            history.append(order)
            return
        if not history:  # a limit of 0: nothing is remembered
            old = order
        else:
            head = self.history_head
            old = history[head]
            history[head] = order
            head += 1
            self.history_head = 0 if head == len(history) else head
        forgotten = self.forgotten
        forgotten.append(old)
        if len(forgotten) >= _FORGET_BATCH:
            self._forget()

    def _is_forgotten(self, order: Order) -> bool:
        """Whether ``order`` was forgotten but is still in the tables (duplicates only)."""
        return any(old is order for old in self.forgotten)

    def _forget(self) -> None:
        """Take the orders in ``forgotten`` out of the tables, and let them go.

        Their objects (order, ``Done``, trades) are freed together when the list goes,
        at the end of this call. Reading ahead (touching every order, then every
        ``Done``, before the real work) was measured and did not pay.
        """
        forgotten = self.forgotten
        self.forgotten = []
        orders = self.orders
        for old in forgotten:
            orders.remove(old.order_id)
            client_id = old.client_id
            if client_id is not None:
                by_client = old.account.by_client
                if by_client.get(client_id) is old:  # not if a new submit took the id over
                    del by_client[client_id]

    def finished_orders(self) -> list[Order]:
        """The remembered finished orders, oldest first."""
        head = self.history_head
        return self.history[head:] + self.history[:head]

    # ------------------------------------------------------------------ queries

    def market(self, symbol: str) -> Market | None:
        return self.markets.get(symbol)

    def depth(self, symbol: str, levels: int = 20) -> tuple[list, list]:
        """(bids, asks), each up to ``levels`` of (price, qty, count), best first."""
        book = self.markets[symbol].book
        return book.bids.depth(levels), book.asks.depth(levels)

    def order(self, order_id: int) -> OrderView | None:
        order = self.orders.get(order_id)
        return None if order is None else order.view()

    def order_by_client_id(self, owner: str, client_id: str) -> OrderView | None:
        account = self.owners.get(owner)
        order = None if account is None else account.by_client.get(client_id)
        return None if order is None else order.view()

    def open_orders(self, owner: str, market: str | None = None) -> list[OrderView]:
        """The owner's open orders (resting, or stops waiting for their trigger), oldest
        first."""
        account = self.owners.get(owner)
        owned = [] if account is None else account.open_by_id()
        return [order.view() for order in owned if market is None or order.market == market]

    def balances(self, owner: str) -> list[tuple[str, int, int]]:
        """(asset, available, held) in units, every asset in order; [] without an account."""
        account = self.owners.get(owner)
        if account is None or not account.funded:
            return []
        pairs = zip(self.ledger.assets, account.balances, strict=True)
        return [(asset.name, balance.available, balance.held) for asset, balance in pairs]

    def asset(self, name: str) -> Asset | None:
        """An asset (its unit, ``units`` and ``text`` conversions), or None."""
        return self.ledger.asset(name)

    def totals(self) -> dict[str, int]:
        """Per asset: every account's available and held plus the fee account. Equal to
        :meth:`granted` at every index: money is only ever moved."""
        ledger = self.ledger
        sums = list(ledger.fees)
        for account in self.owners.values():
            if account.funded:
                for asset_id, balance in enumerate(account.balances):
                    sums[asset_id] += balance.available + balance.held
        return {asset.name: sums[asset.asset_id] for asset in ledger.assets}

    def granted(self) -> dict[str, int]:
        """Per asset: the sum of every grant made."""
        return {asset.name: self.ledger.granted[asset.asset_id] for asset in self.ledger.assets}

    def max_qty(self, owner: str, symbol: str, side: str, price: int | None) -> int | None:
        """The most lots ``owner`` can buy at ``price`` ticks (or sell) with what is
        available now; None when this exchange holds no money or the market is unknown."""
        market = self.markets.get(symbol)
        account = self.owners.get(owner)
        if market is None or not self.ledger.on:
            return None
        if account is None or not account.funded:
            return 0
        if side == "sell":
            return account.balances[market.base_id].available // market.base_per_lot
        if price is None:
            return None
        return account.balances[market.quote_id].available // (price * market.quote_per_notional)

    def recent_trades(self, symbol: str, since: int = 0, limit: int = 100) -> list[Trade]:
        """Remembered trades of a market with ``trade_id > since``, oldest first."""
        return [t for t in self.markets[symbol].trades if t.trade_id > since][:limit]

    def candles(self, symbol: str, interval: str, limit: int) -> list[Bar]:
        """The last ``limit`` candles of a market, oldest first, as (start_ms, open, high,
        low, close, volume) in ticks and lots (``engine.candles``); InvalidInput naming the
        field for an unknown market, interval or a limit out of range."""
        return self._known(symbol).candles.bars(interval, limit)

    def ticker(self, symbol: str) -> tuple[int, int, int, int, int] | None:
        """(last, change, high, low, volume) over the 24 h up to the exchange's time, or None
        when the market never traded; InvalidInput for an unknown market."""
        return self._known(symbol).candles.ticker(self.time)

    def _known(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise InvalidInput("market", f"unknown market {symbol}")
        return market

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> bytes:
        """Versioned, canonical bytes of the whole state (see ``engine.snapshot``)."""
        return snapshot.dump(self)

    @classmethod
    def restore(cls, data: object) -> "Exchange":  # object: compiled code must not reject it first
        """An exchange equal to the one that wrote ``data``; InvalidInput if it is not one."""
        exchange = cls()
        snapshot.load(data, exchange)
        return exchange

    def digest(self) -> str:
        """Hex SHA-256 of the canonical state: equal on every peer at the same index."""
        return hashlib.sha256(snapshot.dump(self)).hexdigest()


def _sides(market: Market, is_buy: bool) -> tuple[BookSide, BookSide]:
    """(the order's own side of the book, the side it trades against)."""
    book = market.book
    return (book.bids, book.asks) if is_buy else (book.asks, book.bids)


def _crosses(is_buy: bool, trigger: int, last: int) -> bool:
    """Whether the last trade price ``last`` (0: none yet) triggers a stop at ``trigger``."""
    return last > 0 and (last >= trigger if is_buy else last <= trigger)


def _shortfall(asset: Asset, need: int, have: int) -> str:
    """The reason of an ``insufficient_funds`` rejection: the asset and how much is missing."""
    return (f"{REJECT_INSUFFICIENT_FUNDS}: {asset.name} short by {asset.text(need - have)} "
            f"(needs {asset.text(need)}, "
            f"available {asset.text(have)})")  # fmt: skip
