"""Simulated users: clients submitting engine commands (retrying on timeout, possibly through
another node, which is what creates duplicates in the log), and an operator changing
membership and transferring leadership mid-run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from net.raft import ConfChange, ConfChangeType, Role
from net.sim.node import Input
from net.sim.replica import encode_payload

if TYPE_CHECKING:
    from net.sim.simulation import Simulation

MARKET = {
    "op": "create_market",
    "symbol": "BTC/USD",
    "base": "BTC",
    "quote": "USD",
    "tick": "0.1",
    "lot": "0.001",
}


class Client:
    """One command outstanding at a time, numbered 1, 2, 3, ... (the session table's rule)."""

    def __init__(self, sim: Simulation, name: str) -> None:
        self.sim = sim
        self.name = name
        self.seq = 0
        self.attempt = 0
        self.pending = False
        self.payload = b""
        self.acked = 0

    def next_command(self) -> None:
        if not self.sim.issuing:
            return
        self.seq += 1
        self.pending = True
        self.payload = encode_payload(self.name, self.seq, self._command())
        self._send()

    def _command(self) -> dict:
        rng = self.sim.rng
        if self.seq == 1:
            return MARKET
        r = rng.random()
        if r < 0.65:
            market = r < 0.1
            return {
                "op": "submit",
                "owner": self.name,
                "market": "BTC/USD",
                "side": rng.choice(("buy", "sell")),
                "type": "market" if market else "limit",
                "price": None if market else rng.randint(990, 1010),
                "qty": rng.randint(1, 5),
                "tif": "ioc" if market else rng.choice(("gtc", "gtc", "ioc")),
                "post_only": False,
                "stp": "none",
                "client_id": f"{self.name}-{self.seq}",
            }
        order_id = rng.randint(1, max(1, self.sim.checker.commands))
        if r < 0.85:
            return {"op": "cancel", "owner": self.name, "order_id": order_id}
        if r < 0.95:
            qty = rng.randint(1, 4)
            return {
                "op": "amend",
                "owner": self.name,
                "order_id": order_id,
                "qty": qty,
                "price": None,
            }
        return {"op": "cancel_all", "owner": self.name, "market": None}

    def _send(self) -> None:
        sim = self.sim
        self.attempt += 1
        node = sim.pick_node()
        if sim.trace.enabled:
            sim.trace.log(f"{self.name}#{self.seq} submit via n{node.id} (attempt {self.attempt})")
        sim.loop.after(
            sim.network.latency(), node.feed, Input.PROPOSE, (self, self.seq, self.payload)
        )
        sim.loop.after(sim.weather.client_timeout_ms, self.retry, self.seq, self.attempt)

    def retry(self, seq: int, attempt: int) -> None:
        """Timeout of an attempt (or a refusal): send again, perhaps through another node."""
        if self.pending and seq == self.seq and attempt == self.attempt:
            self._send()

    def on_reject(self, seq: int) -> None:
        if self.pending and seq == self.seq:
            self.sim.loop.after(self.sim.rng.randint(5, 50), self.retry, seq, self.attempt)

    def on_ack(self, seq: int) -> None:
        if not (self.pending and seq == self.seq):
            return
        self.pending = False
        self.acked += 1
        self.sim.checker.on_ack(self.name, seq)
        if self.sim.trace.enabled:
            self.sim.trace.log(f"{self.name}#{seq} acked")
        self.sim.loop.after(self.sim.rng.randint(0, 20), self.next_command)


class Operator:
    """Keeps the cluster at its voter cap through single-server changes: adds spare machines
    as learners, promotes them, removes voters (whose machines are then replaced), and moves
    leadership around. Each change names the configuration it was decided from, so a delayed
    duplicate is a no-op."""

    def __init__(self, sim: Simulation, voter_cap: int) -> None:
        self.sim = sim
        self.voter_cap = voter_cap
        self.changes = 0

    def step(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        sim.loop.after(sim.weather.membership_every_ms, self.step)
        rng, conf = sim.rng, sim.checker.conf
        members = conf.voters + conf.learners
        spares = [n.id for n in sim.live_nodes() if n.id not in members]
        if spares:
            cc = ConfChange(ConfChangeType.ADD_LEARNER, spares[0], conf.index)
        elif conf.learners and len(conf.voters) < self.voter_cap:
            cc = ConfChange(ConfChangeType.ADD_VOTER, rng.choice(conf.learners), conf.index)
        elif rng.random() < 0.5:
            self._transfer()
            return
        else:
            removable = conf.learners + (conf.voters if len(conf.voters) >= 3 else ())
            cc = ConfChange(ConfChangeType.REMOVE, rng.choice(removable), conf.index)
        node = sim.pick_node()
        if sim.trace.enabled:
            sim.trace.log(f"operator: {cc.type.name} n{cc.node} via n{node.id}")
        self.changes += 1
        sim.loop.after(sim.network.latency(), node.feed, Input.CONF, cc)

    def _transfer(self) -> None:
        sim = self.sim
        leaders = [n for n in sim.live_nodes() if n.core is not None and n.core.role == Role.LEADER]
        if not leaders:
            return
        leader = max(leaders, key=lambda n: n.core.term if n.core else 0)
        targets = [v for v in sim.checker.conf.voters if v != leader.id]
        if not targets:
            return
        target = sim.rng.choice(targets)
        node = sim.pick_node()
        if sim.trace.enabled:
            sim.trace.log(f"operator: transfer leadership n{leader.id} -> n{target} via n{node.id}")
        sim.loop.after(sim.network.latency(), node.feed, Input.TRANSFER, target)
