"""The engine's internal tables behave like the plain structures they stand for.

``OrderTable`` keeps recent ids in a list window and older ones in a dict, and moves
entries between the two as the window shrinks; ``SortedKeys`` keeps a book side's prices
sorted in chunks. None of that may show.
"""

import bisect
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.book import SortedKeys
from engine.orders import Order, OrderTable, Owner

OWNER = Owner()


def _order(order_id: int) -> Order:
    return Order(order_id, None, "alice", OWNER, "BTC/USD", "buy", "limit", 100, 1, "gtc",
                 False, "none", 0, 0, None, None)  # fmt: skip


# Each step: ("new", _) puts the next id; ("replace", k) / ("remove", k) act on the k-th
# remembered id (mod their number); ("jump", n) skips n ids, as a restore after forgotten
# orders can.
OPS = ["new", "new", "new", "replace", "remove", "remove", "jump"]
STEPS = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 10_000)), max_size=400)


@settings(max_examples=200, deadline=None)
@given(STEPS, st.integers(0, 8), st.integers(1, 50))
def test_order_table_matches_a_dict(steps, slack, first):
    table, model = OrderTable(slack=slack), {}
    next_id = first
    for op, k in steps:
        if op == "new" or not model:
            order = _order(next_id)
            next_id += 1
        elif op == "jump":
            next_id += k
            continue
        else:
            order_id = sorted(model)[k % len(model)]
            if op == "remove":
                table.remove(order_id)
                del model[order_id]
                continue
            order = _order(order_id)
        table.put(order)
        model[order.order_id] = order
        assert len(table.window) <= 2 * table.count + slack + 1
    assert len(table) == len(model)
    assert table.items() == sorted(model.items())
    for order_id in range(first - 1, next_id + 2):
        assert table.get(order_id) is model.get(order_id)
        assert (order_id in table) == (order_id in model)


def test_puts_in_any_order_then_lookups():
    # a restore puts resting orders first (book order), then finished ones
    table = OrderTable(slack=2)
    ids = [500, 3, 9_000, 40, 501, 8_999, 7]
    for order_id in ids:
        table.put(_order(order_id))
    assert [i for i, _ in table.items()] == sorted(ids)
    assert all(table[i].order_id == i for i in ids)
    assert table.get(4) is None and table.get(10**18) is None and table.get(-5) is None


def test_a_vast_gap_in_ids_moves_the_window_instead_of_filling_it():
    # a restored snapshot may name an order id far beyond the others (its counter allows it)
    table = OrderTable(slack=4)
    for order_id in (1, 2, 3, 10**15):
        table.put(_order(order_id))
    assert len(table.window) == 1 and len(table) == 4
    assert [i for i, _ in table.items()] == [1, 2, 3, 10**15]
    assert all(table[i].order_id == i for i in (1, 2, 3, 10**15))


# Keys in a narrow range, so adds and removes hit the same chunks and chunks split and empty.
KEY_STEPS = st.lists(st.tuples(st.booleans(), st.integers(-3000, 3000)), max_size=3000)


@settings(max_examples=60, deadline=None)
@given(KEY_STEPS)
def test_sorted_keys_match_a_sorted_list(steps):
    keys, model = SortedKeys(), []
    for add, key in steps:
        if add and key not in model:
            keys.add(key)
            bisect.insort(model, key)
        elif model:
            present = model[key % len(model)]
            keys.remove(present)
            model.remove(present)
        assert keys.size == len(model)
        if model:
            assert keys.last() == model[-1]
    assert keys.largest(len(model) + 5) == model[::-1]
    assert keys.largest(7) == model[::-1][:7]
    assert [k for chunk in keys.chunks for k in chunk] == model
    assert keys.firsts == [chunk[0] for chunk in keys.chunks]
    assert all(0 < len(chunk) <= 2 * 512 for chunk in keys.chunks)


def test_sorted_keys_through_many_chunks():
    rng = random.Random(5)
    keys, model = SortedKeys(), []
    for _ in range(20_000):
        if len(model) < 3000 or rng.random() < 0.45:
            key = rng.randrange(10**6)
            if key not in model:
                keys.add(key)
                bisect.insort(model, key)
        else:
            key = model[-1] if rng.random() < 0.5 else rng.choice(model)
            keys.remove(key)
            model.remove(key)
        assert keys.last() == model[-1]
    assert len(keys.chunks) > 3
    assert [k for chunk in keys.chunks for k in chunk] == model
    assert keys.firsts == [chunk[0] for chunk in keys.chunks]
    assert keys.largest(100) == model[::-1][:100]
