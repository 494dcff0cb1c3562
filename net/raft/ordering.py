"""Which messages a shell may send before the Ready's writes are durable (etcd's async storage
writes), shared by the real peer (net/node.py) and the simulator (net/sim/node.py).

Messages that claim nothing about this peer's disk may leave before the Ready's write is
durable: appends, heartbeats and snapshots from a leader (which counts its own entries only
once durable), forwarded proposals and transfer requests. Every response (acks, votes) and
every vote request (a candidate's own vote must be durable before it can win) waits for the
write.
"""

from __future__ import annotations

from net.raft.messages import MT

SEND_BEFORE_PERSIST = frozenset({MT.APP, MT.HB, MT.SNAP, MT.PROP, MT.TRANSFER, MT.TIMEOUT_NOW})
