"""Joins answered by a real leader ``Node`` in process: every newcomer told "ok" becomes a
learner, even when several ask at once and Raft takes one configuration change at a time."""

from cluster_helpers import poll

from net.config import PeerConfig, Timing
from net.node import Node
from net.raft.core import Role
from net.transport.control import JoinRequest


async def test_newcomers_let_in_together_all_become_learners(tmp_path):
    config = PeerConfig(name="lead", data_dir=tmp_path / "lead", discovery=False,
                        timing=Timing(found_after=0.2))  # fmt: skip
    node = Node(config)
    await node.start()
    try:
        await poll(lambda: node.core is not None and node.core.role == Role.LEADER, 20, "leader")
        await poll(lambda: bool(node.exchange.markets), 20, "the founding markets")
        newcomers = [JoinRequest(1000 + n, f"new{n}", f"127.0.0.1:{40000 + n}", "dex")
                     for n in range(3)]  # fmt: skip
        replies = [await node._on_join(request) for request in newcomers]
        assert all(reply.ok for reply in replies)
        # the second and third ADD_LEARNER meet a pending change and are dropped by the core
        wanted = {request.node_id for request in newcomers}
        await poll(lambda: wanted <= set(node.core.conf.learners), 20, "three learners")
    finally:
        await node.stop()
