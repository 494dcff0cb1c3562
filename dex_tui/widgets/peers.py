"""The cluster panel: this peer's role, term, leader, indexes and digest, and every other
peer with its address, state and when it was last heard from."""

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class PeersPanel(Static):
    DEFAULT_CSS = """
    PeersPanel { height: auto; }
    """

    def show(self, status: dict, digest: str, digest_index: int) -> None:
        """``digest`` is for ``digest_index``, which lags the applied index under load."""
        at = "" if digest_index == status["applied_index"] else f" @{digest_index}"
        head = Text.assemble(
            ("cluster ", "dim"),
            (status.get("cluster", ""), "bold"),
            f"  {status['cluster_id'] or '(none yet)'}\n",
            (status["name"], "bold"),
            f"  {status['role']}  term {status['term']}  leader {status['leader'] or '—'}\n",
            f"commit {status['commit_index']}  applied {status['applied_index']}  ",
            ("digest ", "dim"),
            (digest[:16], "cyan"),
            (at, "dim"),
        )
        table = Table.grid(padding=(0, 1), expand=True)
        for column in ("peer", "address", "state", "seen"):
            table.add_column(column)
        table.add_row(*(Text(c, style="bold dim") for c in ("peer", "address", "state", "seen")))
        for peer in status["peers"]:
            unreachable = "unreachable" in peer["state"]
            seen = peer["last_seen_ms"]
            table.add_row(
                peer["name"],
                peer["addr"],
                Text(peer["state"], style="red" if unreachable else "green"),
                "never" if seen is None else f"{seen / 1000:.1f}s",
            )
        if not status["peers"]:
            table.add_row(Text("no other peers", style="dim"), "", "", "")
        self.update(Group(head, table))
