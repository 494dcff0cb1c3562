"""The book channel's diff against a client's copy: random books, random rounds, random depths.

The server side (``net/feed/book.py``) reads the engine's book once per round and sends each
depth's subscribers what changed in their window; the client side (``LocalBook``) applies
it and verifies the checksum. Whatever the orders do, after every round each client's copy
must equal the engine's top levels at that depth, and every checksum must match.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Cancel, CreateMarket, Exchange, Submit
from net.feed.book import MarketBook, _changes
from net.feed.localbook import LocalBook
from net.feed.protocol import Subscription
from net.feed.texts import Texts

BTC = "BTC/USD"
DEPTHS = (25, 26, 40)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def exchange() -> Exchange:
    ex = Exchange()
    ex.apply(CreateMarket(BTC, "BTC", "USD", "0.1", "0.001"), 1)
    return ex


# Bids rest at 1..60, asks at 41..100 (ticks): the two overlap, so orders also cross, and
# with up to 60 levels a side the windows' edges move both ways.
orders = st.tuples(st.sampled_from(("buy", "sell")), st.integers(1, 100), st.integers(1, 5))
steps = st.one_of(
    orders.map(lambda o: ("order", o)),
    st.integers(1, 400).map(lambda n: ("cancel", n)),
    st.just(("flush", None)),
    st.sampled_from(DEPTHS).map(lambda d: ("join", d)),
)


def top(ex: Exchange, depth: int) -> tuple[list, list]:
    texts = Texts(ex.markets[BTC])
    bids, asks = ex.depth(BTC, depth)
    return (
        [(texts.price(p), texts.qty(q)) for p, q, _ in bids],
        [(texts.price(p), texts.qty(q)) for p, q, _ in asks],
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(orders, max_size=80), st.lists(steps, min_size=1, max_size=250))
def test_every_client_copy_equals_the_engine_book_after_every_round(before, script):
    ex = exchange()
    index = 1
    for side, price, qty in before:  # a book to start from
        index += 1
        ex.apply(Submit("alice", BTC, side, "limit", price + (0 if side == "buy" else 40), qty),
                 index)  # fmt: skip
    book = MarketBook(Texts(ex.markets[BTC]))
    clients: list[tuple[Recorder, LocalBook, int]] = []

    def join(depth: int) -> None:
        conn = Recorder()
        for text in book.subscribe(conn, Subscription("book", BTC, depth=depth), ex):  # type: ignore[arg-type]
            conn.send(text)
        clients.append((conn, LocalBook(BTC), depth))

    def check() -> None:
        for conn, local, depth in clients:
            for message in conn.sent:
                assert message["index"] >= local.index
                local.apply(message)  # raises BookMismatch on a wrong checksum
            conn.sent.clear()
            bids, asks = top(ex, depth)
            assert local.levels("bid") == bids
            assert local.levels("ask") == asks

    join(25)
    for kind, arg in [*script, ("flush", None)]:
        if kind == "order":
            side, price, qty = arg
            index += 1
            ex.apply(Submit("bob", BTC, side, "limit", price, qty), index)
        elif kind == "cancel":
            index += 1
            ex.apply(Cancel("alice" if arg % 2 else "bob", arg), index)
        elif kind == "join":  # the hub joins only at a flushed index: flush first
            book.refresh(ex)
            check()
            join(arg)
        else:
            book.refresh(ex)
            check()


def test_a_round_that_changes_nothing_in_the_window_sends_nothing():
    ex = exchange()
    for i, price in enumerate(range(1, 31), 2):
        ex.apply(Submit("alice", BTC, "buy", "limit", price, 1), i)
    book = MarketBook(Texts(ex.markets[BTC]))
    conn = Recorder()
    book.subscribe(conn, Subscription("book", BTC), ex)  # type: ignore[arg-type]
    ex.apply(Submit("alice", BTC, "buy", "limit", 1, 1), 40)  # the 30th level: outside
    book.refresh(ex)
    ex.apply(Submit("alice", BTC, "buy", "limit", 30, 1), 41)  # the best: inside
    book.refresh(ex)
    assert [m["index"] for m in conn.sent] == [41]
    assert conn.sent[0]["changes"] == [["bid", "3", "0.002"]]


def test_a_level_that_enters_the_window_from_beyond_is_sent_with_its_qty():
    ex = exchange()
    for i, price in enumerate(range(1, 28), 2):  # 27 bid levels: 3..27 in the window
        ex.apply(Submit("alice", BTC, "buy", "limit", price, 1), i)
    book = MarketBook(Texts(ex.markets[BTC]))
    conn = Recorder()
    book.subscribe(conn, Subscription("book", BTC), ex)  # type: ignore[arg-type]
    best = ex.open_orders("alice")[-1]
    ex.apply(Cancel("alice", best.order_id), 40)
    book.refresh(ex)
    assert conn.sent[0]["changes"] == [["bid", "0.2", "0.001"], ["bid", "2.7", "0"]]


def test_changes_lists_new_and_changed_levels_then_the_gone_ones():
    texts = Texts(exchange().markets[BTC])
    sent = {30: 1, 20: 5, 10: 2}
    now = [(30, 1), (25, 3), (20, 4)]
    assert _changes("bid", sent, now, texts) == [
        ["bid", "2.5", "0.003"],
        ["bid", "2", "0.004"],
        ["bid", "1", "0"],
    ]
