"""The book checksum: the worked example of docs/feed.md, and what makes it exact."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine import Cancel, CreateMarket, Exchange, Submit
from net.feed.book import MarketBook
from net.feed.checksum import CHECKSUM_LEVELS, book_checksum, checksum_text
from net.feed.localbook import LocalBook
from net.feed.protocol import Subscription
from net.feed.texts import Texts

# docs/feed.md, "The checksum": BTC/USD (tick 0.1, lot 0.001)
BIDS = [("100.5", "0.25"), ("100", "1.5"), ("99.9", "0.004")]
ASKS = [("100.6", "0.3"), ("101", "2")]
TEXT = "100.5:0.25:100.6:-0.3:100:1.5:101:-2:99.9:0.004"
CHECKSUM = 4221413567
AFTER_UPDATE = 3011869558  # the bid at 100 gone: ["bid", "100", "0"]


class Recorder:
    """A connection that keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> None:
        self.sent.append(text)


def test_the_worked_example():
    assert checksum_text(BIDS, ASKS) == TEXT
    assert book_checksum(BIDS, ASKS) == CHECKSUM
    assert book_checksum([BIDS[0], BIDS[2]], ASKS) == AFTER_UPDATE


def test_the_worked_example_from_the_engine_through_the_feed():
    """The same numbers from real orders, rendered and summed by the feed's own code."""
    ex = Exchange()
    ex.apply(CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"), 1)
    orders = [("buy", 1005, 250), ("buy", 1000, 1500), ("buy", 999, 4), ("sell", 1006, 300),
              ("sell", 1010, 2000)]  # fmt: skip
    for i, (side, price, qty) in enumerate(orders, 2):
        ex.apply(Submit("alice", "BTC/USD", side, "limit", price, qty), i)
    book = MarketBook(Texts(ex.markets["BTC/USD"]))
    conn = Recorder()
    (snapshot,) = book.subscribe(conn, Subscription("book", "BTC/USD"), ex)  # type: ignore[arg-type]
    assert '"bids":[["100.5","0.25"],["100","1.5"],["99.9","0.004"]]' in snapshot
    assert f'"checksum":{CHECKSUM}' in snapshot
    bid_at_100 = ex.open_orders("alice")[1]
    ex.apply(Cancel("alice", bid_at_100.order_id), 7)
    book.refresh(ex)
    assert conn.sent == [
        '{"channel":"book","type":"update","market":"BTC/USD","depth":25,"index":7,'
        f'"changes":[["bid","100","0"]],"checksum":{AFTER_UPDATE}}}'
    ]


def test_an_empty_book_sums_to_zero():
    assert checksum_text([], []) == "" and book_checksum([], []) == 0


def test_a_lone_bid_and_a_lone_ask_at_one_price_differ():
    assert book_checksum([("100", "1")], []) != book_checksum([], [("100", "1")])


def test_only_the_top_25_of_each_side_count():
    bids = [(str(1000 - i), "1") for i in range(CHECKSUM_LEVELS + 5)]
    asks = [(str(2000 + i), "1") for i in range(CHECKSUM_LEVELS + 5)]
    top = book_checksum(bids[:CHECKSUM_LEVELS], asks[:CHECKSUM_LEVELS])
    assert book_checksum(bids, asks) == top
    assert book_checksum(bids[:CHECKSUM_LEVELS - 1], asks) != top  # fmt: skip


def test_one_side_longer_than_the_other_interleaves_then_runs_on():
    assert checksum_text([("1", "1")], [("2", "1"), ("3", "1")]) == "1:1:2:-1:3:-1"


@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)), max_size=40))
def test_a_local_book_from_a_snapshot_verifies(levels):
    """LocalBook sorts by decimal value (not as text) before summing."""
    prices = sorted({p for p, _ in levels})
    middle = len(prices) // 2
    bids = [(str(Decimal(p).scaleb(-2)), "1") for p in reversed(prices[:middle])]
    asks = [(str(Decimal(p).scaleb(-2)), "2") for p in prices[middle:]]
    book = LocalBook("X")
    book.apply({"type": "snapshot", "bids": list(reversed(bids)), "asks": asks, "depth": 25,
                "index": 1, "checksum": book_checksum(bids, asks)})  # fmt: skip
    assert book.levels("bid") == bids
