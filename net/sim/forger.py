"""A lying member: now and then a peer proposes forged entries straight into its Raft core,
as a member running modified code could, past everything its own shell would refuse.

Raft tolerates crashes, not lies, so these entries commit like any other; what must hold
is that applying them changes no trader's orders or balances, identically on every peer
(``net/machine.py`` verifies each batch's signature and owns the owner field). The kinds:

- ``unsigned``: a plain ``{"c": [...]}`` entry carrying another trader's submit, cancel,
  transfer (to the liar) or cancel-all: each request refused unanswered;
- ``bad_signature``: a signed batch claiming another trader's key, signed by the liar's
  key, or a real batch of that trader with its commands altered, or a signature of noise:
  the batch refused whole;
- ``owner``: a batch the liar signs validly with its own key whose commands name another
  owner (or register another trader's name): each refused with a reason, none reaching
  the engine;
- ``replay``: a copy of a real signed batch committed earlier, byte for byte: every request
  a duplicate; ``respelled``: the same batch in other JSON (spaces): refused whole as not
  laid out as signed, or (a verifier that reads the commands, not their bytes) every
  request a duplicate.

With ``SimOptions.hijack`` one more kind is on: ``hijack``, a batch the liar signs validly
with its own key whose requests claim another peer's origin and the numbers of writes that
peer is waiting for. Nothing it does is another trader's, but a peer that matched answers to
its writes by origin and number alone would tell its client the liar's outcome.

The checker (``Checker.forged``) is told each payload and what its machine must do with it.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from net.raft.errors import ProposalDropped
from net.sim.checker import signer_of
from net.sim.workload import MARKETS
from net.traders import signed_bytes, signed_payload
from net.writes import entry_payload

if TYPE_CHECKING:
    from net.sim.node import SimNode
    from net.sim.simulation import Simulation

KINDS = ("unsigned", "bad_signature", "owner", "replay", "respelled")
FORGED_SEQ = 1 << 62  # request numbers a liar uses: far above any honest one (boot << 40)


class Forger:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._seq = FORGED_SEQ
        self.kinds = (*KINDS, "hijack") if sim.opts.hijack else KINDS

    def start(self) -> None:
        sim = self.sim
        every = sim.weather.forge_every_ms
        if sim.opts.forgery and every:
            sim.loop.after(sim.rng.randint(0, every), self._forge)

    def _forge(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        rng = sim.rng
        sim.loop.after(rng.randint(1, 2 * sim.weather.forge_every_ms), self._forge)
        liars = [
            n for n in sim.machines.values() if n.up and n.shell is not None and n.shell.member
        ]
        if liars:
            node = rng.choice(liars)
            kind, gen = rng.choice(self.kinds), node.gen
            node.do(lambda: self._propose(node, gen, kind))

    def _propose(self, node: SimNode, gen: int, kind: str) -> None:
        shell = node.shell
        if gen != node.gen or shell is None or shell.core is None or node.writing:
            return  # crashed meanwhile, or its shell is busy with a turn: another time
        built = getattr(self, f"_{kind}")(node)
        if built is None:
            return  # nothing to forge with yet (no other trader, no batch to replay)
        payload, must_refuse = built
        sim = self.sim
        sim.checker.forged.setdefault(payload, (kind, must_refuse))
        if sim.trace.enabled:
            sim.trace.log(f"{node.name} (n{node.id}) proposes a forged entry: {kind}")
        with contextlib.suppress(ProposalDropped):  # no leader known: lost, as any proposal
            shell.core.propose(payload)

    # -- what the liar knows and makes up --

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _victims(self, node: SimNode) -> list[SimNode]:
        """Other machines whose traders the liar's log knows, or else any other machine."""
        assert node.shell is not None
        traders = node.shell.machine.traders
        others = [m for m in self.sim.machines.values() if m is not node]
        known = [m for m in others if traders.get(m.key.hex) == m.name]
        return known or others

    def _command(self, node: SimNode, victim: SimNode, owner: str | None) -> dict:
        """A command that would hurt ``victim`` if it were taken for theirs: an order, a
        cancel of one of their open orders, a transfer of their money to the liar."""
        assert node.shell is not None
        rng, exchange = self.sim.rng, node.shell.machine.exchange
        r = rng.random()
        if r < 0.3:
            symbol, mid = rng.choice(MARKETS)
            cmd: dict = {"op": "submit", "market": symbol, "side": rng.choice(("buy", "sell")),
                         "type": "limit", "price": mid + rng.randint(-10, 10),
                         "qty": rng.randint(1, 5) * 100, "tif": "gtc", "post_only": False,
                         "stp": "none", "client_id": f"forged-{self._next_seq()}"}  # fmt: skip
        elif r < 0.6:
            open_orders = exchange.open_orders(victim.name)
            order_id = rng.choice(open_orders).order_id if open_orders else rng.randint(1, 50)
            cmd = {"op": "cancel", "order_id": order_id}
        elif r < 0.9:
            units = exchange.asset("USD")
            amount = units.units("100", "amount") if units is not None else 1
            cmd = {"op": "transfer", "to": node.name, "asset": "USD", "amount": amount}
        else:
            cmd = {"op": "cancel_all", "market": None}
        if owner is not None:
            cmd["owner"] = owner
        return cmd

    def _unsigned(self, node: SimNode) -> tuple[bytes, int] | None:
        victims = self._victims(node)
        if not victims:
            return None
        items = []
        for _ in range(self.sim.rng.randint(1, 3)):
            victim = self.sim.rng.choice(victims)
            command = self._command(node, victim, victim.name)
            items.append([victim.id or node.id, self._next_seq(), command])
        return entry_payload(items), len(items)

    def _bad_signature(self, node: SimNode) -> tuple[bytes, int] | None:
        sim, shell = self.sim, node.shell
        assert shell is not None
        victims = self._victims(node)
        if not victims:
            return None
        victim = sim.rng.choice(victims)
        cluster = shell.machine.cluster_id
        items = [[victim.id or node.id, self._next_seq(), self._command(node, victim, None)]]
        way = sim.rng.randrange(3)
        if way == 0:  # the liar's own signature over a batch claiming the victim's key
            signature = node.key.sign(signed_bytes(cluster, victim.key.hex, items))
        elif way == 1:  # a real batch of the victim's, its commands altered
            real = self._real_batch(victim.key.hex)
            if real is None:
                return None
            _, signature, signed = real
            if sim.rng.random() < 0.5:  # a request more
                items = [*signed, signed[0]]
            else:  # the last request another command
                last = signed[-1]
                items = [*signed[:-1], [last[0], last[1], self._command(node, victim, None)]]
            if items == signed:
                return None  # drawn the same command: that would be a replay
        else:  # noise of the right length
            signature = sim.rng.randbytes(64).hex()
        body = {"t": [victim.key.hex, signature, items]}
        return json.dumps(body, separators=(",", ":")).encode(), 1

    def _owner(self, node: SimNode) -> tuple[bytes, int] | None:
        shell = node.shell
        assert shell is not None
        victims = self._victims(node)
        if not victims:
            return None
        rng = self.sim.rng
        traders = shell.machine.traders
        items = []
        for _ in range(rng.randint(1, 3)):
            victim = rng.choice(victims)
            # take a registered victim's name for the liar's key (an unregistered one's name
            # would be the liar's to take: first come, first served)
            if traders.get(victim.key.hex) == victim.name and rng.random() < 0.2:
                command = {"op": "register", "name": victim.name}
            else:
                command = self._command(node, victim, victim.name)
            items.append([node.id, self._next_seq(), command])
        return signed_payload(node.key, shell.machine.cluster_id, items), 0

    def _replay(self, node: SimNode) -> tuple[bytes, int] | None:
        forged = self.sim.checker.forged
        batches = [
            p for p in self.sim.checker.signed if p not in forged or forged[p][0] != "bad_signature"
        ]
        if not batches:
            return None
        rng = self.sim.rng
        return rng.choice(batches), 0

    def _respelled(self, node: SimNode) -> tuple[bytes, int] | None:
        replay = self._replay(node)
        if replay is None:
            return None
        return json.dumps(json.loads(replay[0]), indent=1).encode(), 1

    def _hijack(self, node: SimNode) -> tuple[bytes, int] | None:
        shell = node.shell
        assert shell is not None
        machine, rng = shell.machine, self.sim.rng
        if machine.traders.get(node.key.hex) != node.name:
            return None  # its own commands must be taken: it has to be a trader itself
        spent = machine.requests.seen.get(node.key.hex, set())  # numbers its key used
        waiting = [m for m in self._victims(node) if m.up and set(m.waiting) - spent]
        if not waiting:
            return None
        victim = rng.choice(waiting)
        symbol, mid = rng.choice(MARKETS)
        items = [
            [victim.id, seq, {"op": "submit", "market": symbol, "side": "buy", "type": "limit",
                              "price": mid - 100, "qty": 100, "tif": "ioc", "post_only": False,
                              "stp": "none", "client_id": None}]
            for seq in sorted(set(victim.waiting) - spent)
        ]  # fmt: skip
        return signed_payload(node.key, machine.cluster_id, items), 0

    def _real_batch(self, key_hex: str) -> list | None:
        """[key, signature, items] of a committed batch signed by ``key_hex``, if any."""
        mine = [p for p in self.sim.checker.signed if signer_of(p) == key_hex]
        if not mine:
            return None
        batch = json.loads(self.sim.rng.choice(mine))["t"]
        return batch if batch[2] else None
