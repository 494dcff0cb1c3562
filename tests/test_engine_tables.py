"""The engine's internal table of orders by id behaves like a dict of them.

``OrderTable`` keeps recent ids in a list window and older ones in a dict, and moves
entries between the two as the window shrinks; none of that may show.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.orders import Order, OrderTable, Owner

OWNER = Owner()


def _order(order_id: int) -> Order:
    return Order(order_id, None, "alice", OWNER, "BTC/USD", "buy", "limit", 100, 1, "gtc",
                 False, "none", 0)  # fmt: skip


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
