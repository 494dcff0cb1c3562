"""What a dex peer offers the code that uses it: the one interface of a peer.

``net.Node`` is the peer. The RPC (``net.rpc.api``), the terminal's desk
(``dex_tui.model.desk``) and the scenario runner (``dex_tui.runner``) all take a
:class:`Peer`, each using the part it needs; ``dex_tui.local.LocalPeer`` (one engine, no
network) and the tests' backends stand in for it.
"""

from typing import Protocol

import engine
from net.traders import TraderCommand


class Peer(Protocol):
    """A running peer: its trader, its applied state, and a way to commit through consensus."""

    @property
    def name(self) -> str:
        """This peer's name, also its trader's."""
        ...

    @property
    def owner(self) -> str:
        """The trader this peer acts for: the owner of every write it makes."""
        ...

    @property
    def trader_key(self) -> str:
        """The trader's public key (hex): what signs every write this peer makes."""
        ...

    @property
    def api_addr(self) -> str:
        """``host:port`` of its RPC."""
        ...

    @property
    def exchange(self) -> engine.Exchange:
        """This peer's applied state, for reads (never mutate)."""
        ...

    #: Bumped when the peer moves to another cluster: its state is then a new one.
    epoch: int

    async def execute(self, command: TraderCommand) -> tuple[int, list[engine.Event]]:
        """Commit through consensus and wait until applied on this peer.

        Returns (log index, events of THIS command); raises RpcError ``ERR_NO_QUORUM``,
        ``ERR_TIMEOUT`` or ``ERR_BUSY``.
        """
        ...

    def writable(self) -> None:
        """RpcError (``ERR_NO_QUORUM``) when this peer cannot take writes at all now: it is
        not in a cluster yet. Asked before a write is parsed, so that the reason given is
        that one, not a market the peer has not heard of yet."""
        ...

    async def wait_applied(self, index: int, timeout: float) -> int:
        """The applied index once it is at least ``index``; RpcError ``ERR_TIMEOUT`` after
        ``timeout`` seconds."""
        ...

    def status(self, digest: bool = True) -> dict:
        """The ``status`` op's data (``digest=False`` leaves out the state digest)."""
        ...

    async def switch_cluster(self, cluster_id: str) -> None:
        """Leave this cluster and join ``cluster_id`` (the user's choice on the screen)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Leave the cluster cleanly and close."""
        ...
