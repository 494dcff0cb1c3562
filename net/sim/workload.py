"""Simulated users: clients trading through the peers as RPC clients do, and an operator
who stops peers cleanly, starts them again, wipes their consensus store, adds machines and
moves leadership around.

A client is an RPC client of one machine, and so trades as that machine's trader (the
owner of every write a peer makes is its own registered name). It sends one command at a
time (the machine may be down, paused, cut off or not in the cluster yet); the peer answers
once the command is applied there, or with an error (no quorum, a timeout, not registered
yet). On an error or no answer in time it sends the same command again: a submit keeps its
client id, so the engine returns the first result instead of placing a second order. That
is what puts duplicates in the log.

The orders are sized for the default grant (BTC=10, ETH=100, USD=1000000) near a price of
30,000 (BTC) or 2,000 (ETH): most are funded, and now and then a large one is not
(``insufficient_funds``); cancels and amends mostly name the client's own orders, and
transfers move a little money to another machine's trader. Some orders are good till a
date a few seconds ahead (expired by the leaders' time ticks) and some are stops around the
middle price (triggered by the trades of others).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import FOUNDING_MARKETS, Accepted, Event, Exchange, parse_command
from net.rpc.errors import RpcError
from net.traders import TraderCommand

if TYPE_CHECKING:
    from net.sim.node import SimNode
    from net.sim.simulation import Simulation

#: The founder's markets (engine.FOUNDING_MARKETS) and a middle price in each one's ticks:
#: BTC/USD has a tick of 0.1 and a lot of 0.001, ETH/USD 0.01 and 0.01.
MARKETS = (("BTC/USD", 300_000), ("ETH/USD", 200_000))


def _units_of_one() -> dict[str, int]:
    """Balance units in one whole USD and BTC, as the founding markets set them."""
    scratch = Exchange()
    for index, market in enumerate(FOUNDING_MARKETS, 1):
        scratch.apply(market, index)
    assets = {name: scratch.asset(name) for name in ("USD", "BTC")}
    return {name: asset.units("1", name) for name, asset in assets.items() if asset is not None}


ONE = _units_of_one()


class Client:
    """One command outstanding at a time, for the trader of machine ``node``."""

    def __init__(self, sim: Simulation, name: str, node: SimNode) -> None:
        self.sim = sim
        self.name = name
        self.node = node
        self.seq = 0
        self.attempt = 0
        self.pending = False
        self.command: TraderCommand | None = None
        self.acked = 0
        self.orders: list[int] = []  # ids of its orders the engine accepted, latest last

    def next_command(self) -> None:
        if not self.sim.issuing:
            return
        self.seq += 1
        self.pending = True
        self.command = parse_command(self._command())
        self._send()

    def _command(self) -> dict:
        rng = self.sim.rng
        owner = self.node.name
        r = rng.random()
        if r < 0.6:
            market = r < 0.08
            symbol, mid = MARKETS[0] if rng.random() < 0.85 else MARKETS[1]
            big = rng.random() < 0.1  # 5 to 15 coins: a sell of more than is held fails
            order = {
                "op": "submit",
                "owner": owner,
                "market": symbol,
                "side": rng.choice(("buy", "sell")),
                "type": "market" if market else "limit",
                "price": None if market else mid + rng.randint(-5, 5),
                "qty": rng.randint(5_000, 15_000) if big else rng.randint(1, 5) * 100,
                "tif": "ioc" if market else rng.choice(("gtc", "gtc", "ioc")),
                "post_only": False,
                "stp": "none",
                "client_id": f"{self.name}-{self.seq}",
            }
            return self._timed(order, mid)
        if self.orders and rng.random() < 0.8:
            order_id = rng.choice(self.orders[-20:])
        else:
            order_id = rng.randint(1, max(1, self.sim.checker.accepted))
        if r < 0.75:
            return {"op": "cancel", "owner": owner, "order_id": order_id}
        if r < 0.87:
            qty = rng.randint(1, 5) * 100
            return {"op": "amend", "owner": owner, "order_id": order_id, "qty": qty,
                    "price": None}  # fmt: skip
        if r < 0.95:
            others = [m.name for m in self.sim.machines.values() if m is not self.node]
            usd = rng.random() < 0.5  # 10 to 1,000 USD, or 0.001 to 0.1 BTC
            amount = rng.randint(1, 100) * (10 * ONE["USD"] if usd else ONE["BTC"] // 1000)
            return {"op": "transfer", "owner": owner, "to": rng.choice(others or [owner]),
                    "asset": "USD" if usd else "BTC", "amount": amount}  # fmt: skip
        return {"op": "cancel_all", "owner": owner, "market": None}

    def _timed(self, order: dict, mid: int) -> dict:
        """Now and then a good-till-date order (expiring within 3 s of this machine's clock,
        which may be a second off the leader's) or a stop near the middle price. Drawn from
        a stream of its own, so that the run's faults and timing stay what a seed made them
        before these orders existed."""
        rng = self.sim.orders_rng
        roll = rng.random()
        if order["type"] == "limit" and roll < 0.12:
            order.update(tif="gtd", expire_at=self.node.wall() + rng.randint(-200, 3000))
        elif roll < 0.2:
            stop_limit = order["type"] == "limit"
            order.update(type="stop_limit" if stop_limit else "stop", tif=None,
                         trigger=mid + rng.randint(-4, 4))  # fmt: skip
        return order

    def _send(self) -> None:
        sim = self.sim
        self.attempt += 1
        node = self.node
        command = self.command
        assert command is not None
        if sim.trace.enabled:
            sim.trace.log(f"{self.name}#{self.seq} via {node.name} (attempt {self.attempt})")
        sim.loop.after(sim.network.latency(), node.submit, self, self.attempt, command)
        # longer than the peer's own request timeout: a live peer answers first
        sim.loop.after(6 * sim.weather.client_timeout_ms, self._retry, self.attempt)

    def _retry(self, attempt: int) -> None:
        if self.pending and attempt == self.attempt:
            self._send()

    def on_reply(self, attempt: int, error: RpcError | None, events: list[Event]) -> None:
        if not self.pending or attempt != self.attempt:
            return  # an answer to an attempt given up on
        sim = self.sim
        self.orders += [e.order_id for e in events if isinstance(e, Accepted)]
        if error is not None:
            if sim.trace.enabled:
                sim.trace.log(f"{self.name}#{self.seq} refused: {error}")
            sim.loop.after(sim.rng.randint(5, 50), self._retry, attempt)
            return
        self.pending = False
        self.acked += 1
        if sim.trace.enabled:
            sim.trace.log(f"{self.name}#{self.seq} answered")
        sim.loop.after(sim.rng.randint(0, 60), self.next_command)


class Operator:
    """What people do to the peers while they trade (the weather says how often)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.leaves = self.wipes = self.spawns = self.restarts = self.transfers = 0
        self.asked_to_leave: set[int] = set()  # ids whose removal may still commit

    def step(self) -> None:
        sim = self.sim
        if not sim.issuing:
            return
        w, rng = sim.weather, sim.rng
        sim.loop.after(w.operator_every_ms, self.step)
        r = rng.random()
        if r < w.leave:
            self._leave()
        elif r < w.leave + w.wipe:
            self._wipe()
        elif r < w.leave + w.wipe + w.spawn:
            if len(sim.machines) < sim.opts.nodes + 2:
                self.spawns += 1
                sim.spawn()
        elif r < 0.8 and any(m.stopped for m in sim.machines.values()):
            node = rng.choice([m for m in sim.machines.values() if m.stopped])
            self.restarts += 1
            self._log(f"operator: start {node.name} again (it left)")
            node.start()
        else:
            self._transfer()

    def _voters_left(self) -> tuple[int, int]:
        """(voters that may stay, members whose store is gone), as the canonical history has
        them. Voters that are leaving, or left, may be removed any moment: they do not count
        as staying, even if they came back meanwhile. Learners whose store is gone count as
        lost: their promotion may be on its way."""
        sim = self.sim
        conf = sim.checker.conf
        held = {m.id for m in sim.machines.values() if m.storage.node_id}
        departing = self.asked_to_leave
        lost = [v for v in (*conf.voters, *conf.learners) if v not in held]
        return len([v for v in conf.voters if v not in departing]), len(lost)

    def _leave(self) -> None:
        """Stop a peer cleanly, unless the voters left after its removal would have lost a
        majority of their stores (no policy recovers from that; a person would not do it
        either: that is what --force-new-cluster is for)."""
        sim = self.sim
        running = [m for m in sim.machines.values() if m.up and not m.leaving]
        if len(running) < 2:
            return
        node = sim.rng.choice(running)
        staying, lost = self._voters_left()
        if node.id in sim.checker.conf.voters and 2 * lost >= staying - 1:
            return
        self.leaves += 1
        self.asked_to_leave.add(node.id)
        self._log(f"operator: stop {node.name} (n{node.id}) cleanly")
        node.leave()

    def _wipe(self) -> None:
        """Lose one peer's consensus store, unless that would leave the voters it was one of
        without a majority of stores (a majority lost for good is beyond any recovery)."""
        sim = self.sim
        candidates = [m for m in sim.machines.values() if m.storage.node_id and not m.leaving]
        if not candidates:
            return
        node = sim.rng.choice(candidates)
        staying, lost = self._voters_left()
        # the lost must stay a minority of the voters left, even if the leader's policy
        # removes one more of them as gone meanwhile (one cut off just now, say)
        if 2 * (lost + 1) >= staying - 1:
            return
        self.wipes += 1
        self._log(f"operator: wipe {node.name}'s store (n{node.id})")
        was_up = node.up
        node.wipe()
        if was_up:
            sim.loop.after(sim.rng.randint(1, 200), self._start, node, node.gen)

    def _start(self, node: SimNode, gen: int) -> None:
        if node.gen == gen and not node.up and not node.stopped:
            node.start()

    def _transfer(self) -> None:
        sim = self.sim
        leader = sim.leader_node()
        if leader is None or leader.shell is None or leader.shell.core is None:
            return
        targets = [v for v in leader.shell.core.conf.voters if v != leader.id]
        if not targets:
            return
        target = sim.rng.choice(targets)
        self.transfers += 1
        self._log(f"operator: transfer leadership n{leader.id} -> n{target}")
        shell = leader.shell
        leader.do(lambda: shell.transfer_leader(target))

    def _log(self, text: str) -> None:
        if self.sim.trace.enabled:
            self.sim.trace.log(text)
