"""Finding other peers with zeroconf (mDNS / DNS-SD): ``_dex._tcp.local.``.

Each peer advertises one service instance carrying its name, consensus node id, cluster id
(empty until it has one) and API address, and browses for the others. What it sees is a
set of :class:`Sighting` records; deciding whom to join is the node's business. Sightings
are hints, not liveness: a peer that vanished may linger until its records expire (on
loopback, goodbye packets were not seen to arrive reliably), so the node confirms a peer
over the transport before relying on it.

Safe by default: the zeroconf sockets bind only the interface given (``127.0.0.1`` unless
``--interface`` says otherwise), so nothing is multicast beyond this machine.
"""

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE = "_dex._tcp.local."
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One peer as it advertises itself."""

    name: str
    node_id: int
    cluster_id: str  # "" while the peer belongs to no cluster yet
    addr: str  # its API address, "host:port"

    def properties(self) -> dict[str, str]:
        return {"name": self.name, "id": str(self.node_id), "cluster": self.cluster_id}

    @classmethod
    def from_info(cls, info: AsyncServiceInfo) -> "Sighting | None":
        """The sighting an advertisement describes, or None if it is not a well-formed one."""
        props = {k.decode(errors="replace"): (v or b"").decode(errors="replace")
                 for k, v in info.properties.items()}  # fmt: skip
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses or not info.port or not props.get("id", "").isdigit():
            return None
        name = props.get("name", "")[:64]
        return cls(name, int(props["id"]), props.get("cluster", "")[:64],
                   f"{addresses[0]}:{info.port}")  # fmt: skip


class Discovery:
    """Advertise ``me`` and keep ``seen`` up to date with the other peers' advertisements."""

    def __init__(self, interface: str, on_change: Callable[[], None] | None = None) -> None:
        self.interface = interface
        self.seen: dict[str, Sighting] = {}  # by service instance name
        self._on_change = on_change
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._resolving: dict[str, asyncio.Task] = {}  # by name: at most one lookup each
        self.advertised: Sighting | None = None  # what this peer advertises now

    async def start(self, me: Sighting) -> None:
        interfaces = InterfaceChoice.All if self.interface == "all" else [self.interface]
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        self._info = self._advertisement(me)
        await self._zc.async_register_service(self._info, allow_name_change=True)
        self.advertised = me
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, SERVICE, handlers=[self._event])

    async def update(self, me: Sighting) -> None:
        """Re-advertise (for instance once this peer has a cluster id)."""
        if self._zc is None or self._info is None:
            return
        self._info = self._advertisement(me, self._info.name)
        self.advertised = me
        await self._zc.async_update_service(self._info)

    async def close(self) -> None:
        if self._zc is not None and self._info is not None:
            await self._zc.async_unregister_service(self._info)  # goodbye: others drop us
        for task in self._resolving.values():
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
        self._zc = self._browser = self._info = None

    def _advertisement(self, me: Sighting, name: str | None = None) -> AsyncServiceInfo:
        host, port = me.addr.rsplit(":", 1)
        instance = name or f"{me.name}-{me.node_id:x}.{SERVICE}"
        return AsyncServiceInfo(
            SERVICE, instance, addresses=[socket.inet_aton(host)], port=int(port),
            properties=me.properties(), server=f"dex-{me.node_id:x}.local.",
        )  # fmt: skip

    def _event(self, zeroconf: Zeroconf, service_type: str, name: str,
               state_change: ServiceStateChange) -> None:  # fmt: skip
        if self._info is not None and name == self._info.name:
            return  # ourselves
        pending = self._resolving.pop(name, None)
        if pending is not None:  # a newer event supersedes it (a goodbye must not be undone)
            pending.cancel()
        if state_change is ServiceStateChange.Removed:
            if self.seen.pop(name, None) is not None:
                self._changed()
            return
        task = asyncio.ensure_future(self._resolve(zeroconf, name))
        self._resolving[name] = task
        task.add_done_callback(lambda done: self._forget(name, done))

    async def _resolve(self, zeroconf: Zeroconf, name: str) -> None:
        info = AsyncServiceInfo(SERVICE, name)
        if not await info.async_request(zeroconf, 3000):
            return
        sighting = Sighting.from_info(info)
        if sighting is None:
            log.info("ignoring a malformed advertisement %s", name)
        elif self.seen.get(name) != sighting:
            self.seen[name] = sighting
            self._changed()

    def _forget(self, name: str, task: asyncio.Task) -> None:
        if self._resolving.get(name) is task:
            del self._resolving[name]

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
