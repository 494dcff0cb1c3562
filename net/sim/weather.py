"""Per-seed fault rates and sizes (after TigerBeetle's VOPR: each seed draws its own weather,
so seeds explore calm and stormy runs alike), and the peer timing scaled to simulated time."""

from __future__ import annotations

import random
from dataclasses import dataclass

from net.config import Timing
from net.raft import Config

TICK_MS = 10


@dataclass(slots=True, frozen=True)
class Weather:
    drop: float  # probability a message is lost
    duplicate: float  # probability a message is delivered twice
    latency_ms: int  # minimum one-way latency
    jitter_ms: int  # uniform extra latency: reorders messages
    spike: float  # probability of a long extra delay
    spike_ms: int
    disk_ms: int  # upper bound of an ordinary fsync
    disk_spike: float  # probability that an fsync is slow...
    disk_spike_ms: int  # ...taking up to this long (a disk that stalls for seconds)
    write_error: float  # probability that a write fails (the peer must stop)
    partition_every_ms: int
    partition_ms: int  # upper bound of a partition's duration
    crash_every_ms: int
    down_ms: int  # upper bound of a crashed node's downtime
    pause_every_ms: int  # 0: no process pauses; else a pause now and then...
    pause_ms: int  # ...of up to this long: the process steps nothing, its inputs pile up
    snapshot_stall: float  # probability of a pause as a snapshot's last chunk arrives
    leader_bias: float  # probability that a crash targets the leader
    torn: float  # probability that a write in flight is cut short by a crash (x3 for votes)
    depose: float  # probability that a newly elected (or admitting) leader is soon cut off
    snapshot_every: int  # applied entries between snapshots
    keep_entries: int  # entries kept behind a snapshot
    digest_every: int  # applied index multiple at which digests are compared
    clients: int
    founders: int  # 1: one machine founds, the others join; more: they found it together
    client_timeout_ms: int
    operator_every_ms: int  # the operator's actions: leaves, restarts, wipes, new machines
    leave: float  # the operator's mix: probability of a clean leave...
    wipe: float  # ...of wiping a peer's consensus store (its identity kept)...
    spawn: float  # ...of starting a new machine; otherwise restarts and leader transfers
    max_msg_bytes: int
    max_inflight: int
    chunk_bytes: int
    retry_after_ms: int  # a peer proposes a write again after this long
    no_leader_ms: int  # writes fail with ERR_NO_QUORUM after this long without a leader
    join_every_ms: int
    remove_after_ms: int  # a voter silent this long is replaced
    forge_every_ms: int  # a lying member proposes a forged entry about this often
    maker_fee_bps: int  # the cluster's fees (often none: the real default)
    taker_fee_bps: int

    @classmethod
    def draw(cls, rng: random.Random) -> Weather:
        return cls(
            drop=rng.choice((0.0, 0.01, 0.05, 0.1, 0.2)),
            duplicate=rng.choice((0.0, 0.02, 0.1)),
            latency_ms=rng.randint(1, 5),
            jitter_ms=rng.choice((0, 5, 20, 50)),
            spike=rng.choice((0.0, 0.01, 0.05)),
            spike_ms=rng.randint(50, 400),
            disk_ms=rng.randint(1, 10),
            disk_spike=rng.choice((0.0, 0.01, 0.05, 0.1)),
            disk_spike_ms=rng.randint(100, 3000),
            write_error=rng.choice((0.0, 0.0, 0.002, 0.01)),
            partition_every_ms=rng.randint(100, 1000),
            partition_ms=rng.randint(50, 1500),
            crash_every_ms=rng.randint(100, 1500),
            down_ms=rng.randint(10, 1500),
            pause_every_ms=rng.choice((0, 100, 300, 1000)),
            pause_ms=rng.randint(20, 1500),
            snapshot_stall=rng.choice((0.2, 0.5)),
            leader_bias=rng.choice((0.0, 0.3, 0.7)),
            torn=rng.choice((0.0, 0.01, 0.03, 0.1)),
            depose=rng.choice((0.0, 0.0, 0.3, 0.8)),
            snapshot_every=rng.randint(3, 60),
            keep_entries=rng.randint(0, 20),
            digest_every=rng.randint(1, 8),
            clients=rng.randint(2, 6),
            founders=rng.choice((1, 9)),  # 9: as many as the voter cap allows
            client_timeout_ms=rng.randint(100, 600),
            operator_every_ms=rng.randint(100, 600),
            leave=rng.choice((0.1, 0.2, 0.3)),
            wipe=rng.choice((0.0, 0.05, 0.15)),
            spawn=rng.choice((0.05, 0.15)),
            max_msg_bytes=rng.choice((1, 256, 4096, 65536)),
            max_inflight=rng.choice((1, 4, 64)),
            chunk_bytes=rng.choice((64, 512, 4096)),
            retry_after_ms=rng.randint(50, 300),
            no_leader_ms=rng.randint(150, 500),
            join_every_ms=rng.randint(30, 200),
            remove_after_ms=rng.randint(300, 2000),
            # drawn last, so the rates above are what they were before traders signed
            forge_every_ms=rng.randint(150, 1000),
            maker_fee_bps=rng.choice((0, 0, 2, 10)),
            taker_fee_bps=rng.choice((0, 0, 5, 30)),
        )

    def config(self) -> Config:
        """The core's configuration (the shell fills in the node id and applied index)."""
        return Config(
            id=0,
            election_tick=10,
            heartbeat_tick=2,
            max_size_per_msg=self.max_msg_bytes,
            max_inflight_msgs=self.max_inflight,
            snapshot_chunk_bytes=self.chunk_bytes,
        )

    def timing(self) -> Timing:
        """The peer's timing in simulated seconds: the real rules, at a simulator's pace."""
        return Timing(
            tick=TICK_MS / 1000,
            election_ticks=10,
            heartbeat_ticks=2,
            request_timeout=5 * self.client_timeout_ms / 1000,
            retry_after=self.retry_after_ms / 1000,
            no_leader_grace=self.no_leader_ms / 1000,
            join_every=self.join_every_ms / 1000,
            remove_after=self.remove_after_ms / 1000,
            promote_heard=10 * TICK_MS / 1000,
            alive_within=20 * TICK_MS / 1000,
            snapshot_every=self.snapshot_every,
            keep_entries=self.keep_entries,
        )
