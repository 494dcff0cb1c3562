"""Finding other peers with zeroconf (mDNS / DNS-SD): ``_dex._tcp.local.``.

Each peer advertises one service instance carrying its name, consensus node id, cluster
name and id (the id empty until it has one), whether its cluster is still *pristine* (no
trader command applied: it may merge into another) and its API address, and browses for
the others. What it sees is a set of :class:`Sighting` records; deciding whom to join is
``net/joining.py``'s business. Sightings are hints: the node confirms a peer over the
transport before relying on it.

Looking is active. zeroconf's browser asks its first question asking for a unicast reply
(QU); on loopback every peer's socket shares port 5353 and such a reply reaches one of
them, not necessarily the asker's, and an mDNS responder multicasts a record at most once a
second, so a browser alone saw its first peer after one to two and a half seconds: longer
than a newcomer waited before founding a cluster of its own. So the browser here asks by
multicast (QM), and :meth:`Discovery.query` asks a *one-shot* question from a socket of its
own (RFC 6762 section 5.1, "legacy unicast"): every responder answers it at once, by
unicast to that socket, with its current records. :attr:`Discovery.queries` counts those
questions (a peer founds only after it has asked a few times and heard of no cluster), and
:attr:`Discovery.heard` says when each peer last answered one, which tells live peers from
records that linger after a peer died. Updates of an advertisement are read again by the
others (zeroconf announces them; the browser's update event resolves them anew).

Safe by default: the zeroconf sockets and the query socket bind only the interface given
(``127.0.0.1`` unless ``--interface`` says otherwise), so nothing is multicast beyond this
machine.
"""

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from zeroconf import (
    DNSIncoming,
    DNSOutgoing,
    DNSQuestion,
    DNSQuestionType,
    InterfaceChoice,
    IPVersion,
    ServiceStateChange,
    Zeroconf,
    const,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE = "_dex._tcp.local."
MDNS = ("224.0.0.251", 5353)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sighting:
    """One peer as it advertises itself."""

    name: str
    node_id: int
    cluster_id: str  # "" while the peer belongs to no cluster yet
    addr: str  # its API address, "host:port"
    cluster: str = ""  # the cluster name (--cluster)
    pristine: bool = True  # its cluster has applied no trader command

    def properties(self) -> dict[str, str]:
        return {"name": self.name, "id": str(self.node_id), "cluster": self.cluster_id,
                "cn": self.cluster, "p": "1" if self.pristine else "0"}  # fmt: skip

    @classmethod
    def from_parts(
        cls, properties: Mapping[bytes, bytes | None], address: str, port: int
    ) -> "Sighting | None":
        """The sighting advertised records describe, or None if they are not well-formed."""
        props = {k.decode(errors="replace"): (v or b"").decode(errors="replace")
                 for k, v in properties.items()}  # fmt: skip
        if not address or not 0 < port < 65536 or not props.get("id", "").isdigit():
            return None
        return cls(props.get("name", "")[:64], int(props["id"]), props.get("cluster", "")[:64],
                   f"{address}:{port}", props.get("cn", "")[:64],
                   props.get("p", "0") == "1")  # fmt: skip

    @classmethod
    def from_info(cls, info: AsyncServiceInfo) -> "Sighting | None":
        addresses = info.parsed_addresses(IPVersion.V4Only)
        return cls.from_parts(info.properties, addresses[0] if addresses else "", info.port or 0)


class Discovery:
    """Advertise ``me`` and keep ``seen`` up to date with the other peers' advertisements."""

    def __init__(self, interface: str, on_change: Callable[[], None] | None = None) -> None:
        self.interface = interface
        self.seen: dict[str, Sighting] = {}  # by service instance name
        self.heard: dict[str, float] = {}  # instance -> when it last answered a query
        self.queries = 0  # one-shot questions asked so far
        self.advertised: Sighting | None = None  # what this peer advertises now
        self._on_change = on_change
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._resolving: dict[str, asyncio.Task] = {}  # by name: at most one lookup each
        self._asker: asyncio.DatagramTransport | None = None

    async def start(self, me: Sighting) -> None:
        interfaces = InterfaceChoice.All if self.interface == "all" else [self.interface]
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        self._info = self._advertisement(me)
        # No probing for a unique instance name: it holds the random consensus id already,
        # and probing would keep this peer unanswerable for its first second.
        await self._zc.async_register_service(self._info, cooperating_responders=True)
        self.advertised = me
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, SERVICE, handlers=[self._event], question_type=DNSQuestionType.QM
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.interface != "all":
            sock.bind((self.interface, 0))
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface)
            )
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        self._asker, _ = await loop.create_datagram_endpoint(lambda: _Answers(self), sock=sock)
        self.query()

    def query(self) -> None:
        """Ask every peer, once, to answer with its advertisement now (see the module doc)."""
        if self._asker is None:
            return
        # A message id of its own: responders drop a packet identical to one they saw in the
        # last second, and every peer's question would otherwise be the same bytes.
        out = DNSOutgoing(const._FLAGS_QR_QUERY, multicast=False, id_=secrets.randbelow(65535) + 1)
        out.add_question(DNSQuestion(SERVICE, const._TYPE_PTR, const._CLASS_IN))
        for packet in out.packets():
            self._asker.sendto(packet, MDNS)
        self.queries += 1

    def fresh(self, within: float) -> list[Sighting]:
        """The sightings of peers that answered a query in the last ``within`` seconds."""
        now = time.monotonic()
        return [s for name, s in self.seen.items() if now - self.heard.get(name, -1e9) < within]

    async def update(self, me: Sighting) -> None:
        """Re-advertise (a new cluster id, pristine no more, a new consensus id)."""
        if self._zc is None or self._info is None or me == self.advertised:
            return
        self._info = self._advertisement(me, self._info.name)
        self.advertised = me
        await self._zc.async_update_service(self._info)

    async def close(self) -> None:
        if self._asker is not None:
            self._asker.close()
            self._asker = None
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
        if self._is_me(name):
            return
        pending = self._resolving.pop(name, None)
        if pending is not None:  # a newer event supersedes it (a goodbye must not be undone)
            pending.cancel()
        if state_change is ServiceStateChange.Removed:
            self.heard.pop(name, None)
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
        self._saw(name, Sighting.from_info(info))

    def _answered(self, data: bytes) -> None:
        """A reply to a one-shot query: every service instance it describes, complete."""
        try:
            message = DNSIncoming(data)
        except Exception:
            return
        if not message.is_response():
            return
        services: dict[str, tuple[str, int]] = {}
        texts: dict[str, bytes] = {}
        hosts: dict[str, str] = {}
        for record in message.answers():
            if record.type == const._TYPE_SRV:
                services[record.name] = (record.server, record.port)  # type: ignore[attr-defined]
            elif record.type == const._TYPE_TXT:
                texts[record.name] = record.text  # type: ignore[attr-defined]
            elif record.type == const._TYPE_A:
                hosts[record.name] = socket.inet_ntoa(record.address)  # type: ignore[attr-defined]
        now = time.monotonic()
        for name, (server, port) in services.items():
            if not name.endswith("." + SERVICE) or self._is_me(name) or name not in texts:
                continue
            self.heard[name] = now
            self._saw(name, Sighting.from_parts(_txt(texts[name]), hosts.get(server, ""), port))

    def _saw(self, name: str, sighting: Sighting | None) -> None:
        if sighting is None:
            log.info("ignoring a malformed advertisement %s", name)
        elif self.seen.get(name) != sighting:
            self.seen[name] = sighting
            self._changed()

    def _is_me(self, name: str) -> bool:
        return self._info is not None and name == self._info.name

    def _forget(self, name: str, task: asyncio.Task) -> None:
        if self._resolving.get(name) is task:
            del self._resolving[name]

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


class _Answers(asyncio.DatagramProtocol):
    """The query socket's replies, handed to the discovery that asked."""

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._discovery._answered(data)


def _txt(text: bytes) -> dict[bytes, bytes | None]:
    """A DNS TXT record's ``key=value`` strings (each one length-prefixed)."""
    props: dict[bytes, bytes | None] = {}
    at = 0
    while at < len(text):
        length = text[at]
        item = text[at + 1 : at + 1 + length]
        at += 1 + length
        key, sep, value = item.partition(b"=")
        if key and key not in props:
            props[key] = value if sep else None
    return props
