"""Per-seed fault rates and sizes (after TigerBeetle's VOPR: each seed draws its own weather,
so seeds explore calm and stormy runs alike)."""

from __future__ import annotations

import random
from dataclasses import dataclass

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
    disk_ms: int  # upper bound of an fsync
    partition_every_ms: int
    partition_ms: int  # upper bound of a partition's duration
    crash_every_ms: int
    down_ms: int  # upper bound of a crashed node's downtime
    leader_bias: float  # probability that a crash targets the leader
    torn: float  # probability that a write in flight is cut short by a crash (x3 for votes)
    depose: float  # probability that a newly elected leader is soon cut off
    snapshot_every: int  # applied entries between snapshots
    keep_entries: int  # entries kept behind a snapshot
    digest_every: int  # applied index multiple at which digests are compared
    clients: int
    client_timeout_ms: int
    membership_every_ms: int
    max_msg_bytes: int
    max_inflight: int
    chunk_bytes: int

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
            partition_every_ms=rng.randint(100, 1000),
            partition_ms=rng.randint(50, 1500),
            crash_every_ms=rng.randint(100, 1500),
            down_ms=rng.randint(10, 1500),
            leader_bias=rng.choice((0.0, 0.3, 0.7)),
            torn=rng.choice((0.0, 0.01, 0.03, 0.1)),
            depose=rng.choice((0.0, 0.0, 0.3, 0.8)),
            snapshot_every=rng.randint(3, 60),
            keep_entries=rng.randint(0, 20),
            digest_every=rng.randint(1, 8),
            clients=rng.randint(2, 5),
            client_timeout_ms=rng.randint(100, 600),
            membership_every_ms=rng.randint(100, 600),
            max_msg_bytes=rng.choice((1, 256, 4096, 65536)),
            max_inflight=rng.choice((1, 4, 64)),
            chunk_bytes=rng.choice((64, 512, 4096)),
        )

    def config(self, node: int, applied: int) -> Config:
        return Config(
            id=node,
            applied=applied,
            election_tick=10,
            heartbeat_tick=2,
            max_size_per_msg=self.max_msg_bytes,
            max_inflight_msgs=self.max_inflight,
            snapshot_chunk_bytes=self.chunk_bytes,
        )
