"""This trader's orders: pending, open and recently finished, one row each, keyed by order.

Rows are diffed by key on each update (cells changed in place, rows added and removed), so
the cursor stays on the order the user selected while fills and new orders arrive. The
``stop`` column is a stop's trigger price (blank for other orders); what is left of an order
is its quantity less what filled. A column that does not fit is cut off, not scrolled to.
"""

from textual.widgets import DataTable

from ..model.blotter import OrderRow

COLUMNS = ("id", "side", "price", "stop", "qty", "filled", "status")


class OpenOrders(DataTable):
    DEFAULT_CSS = """
    OpenOrders { height: 1fr; overflow-x: hidden; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.by_key: dict[str, OrderRow] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)

    def show(self, rows: list[OrderRow]) -> None:
        wanted = {row.key: row for row in rows}
        for key in [k for k in self.by_key if k not in wanted]:
            self.remove_row(key)
            del self.by_key[key]
        for key, row in wanted.items():
            old = self.by_key.get(key)
            cells = _cells(row)
            if old is None:
                self.add_row(*cells, key=key)
            elif old != row:
                for column, (before, after) in zip(COLUMNS, zip(_cells(old), cells, strict=True),
                                                   strict=True):  # fmt: skip
                    if before != after:
                        self.update_cell(key, column, after)
            self.by_key[key] = row

    def selected(self) -> OrderRow | None:
        if not self.by_key or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return self.by_key.get(key or "")


def _cells(row: OrderRow) -> tuple[str, ...]:
    status = row.status.replace("_", " ")
    if row.note:
        status = f"{status}: {row.note}"
    ident = "…" if row.order_id is None else str(row.order_id)
    return (ident, row.side, row.price, row.trigger, row.qty, row.filled, status)
