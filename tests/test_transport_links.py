"""PeerLinks on loopback: ordered delivery, one link per pair, reconnects, joins, clean close."""

import asyncio
import gc
import inspect
import os
import random
import warnings

import aiohttp
import pytest
from aiohttp import web
from transport_helpers import HOST, Peer, app, eventually, mesh, running

from net.raft.messages import MT, Msg
from net.raft.state import ConfState, SnapMeta
from net.transport import (
    JoinReply,
    JoinRequest,
    Limits,
    PeerInfo,
    PeerLinks,
    Stats,
    TransportError,
)
from net.transport.auth import Session
from net.transport.link import REPLACED, Link


async def test_two_peers_exchange_raft_messages_in_order() -> None:
    a, b = Peer(1), Peer(2)
    async with running(a, b):
        await mesh(a, b)
        for i in range(2000):
            assert a.links.send(2, app(1, 2, i))
            assert b.links.send(1, app(2, 1, i, entries=3))
        info = PeerInfo(1, "alpha", a.addr, "test-cluster")
        assert a.links.send(2, info)
        await eventually(lambda: len(a.raft) == 2000 and len(b.received) == 2001, "delivery")
        assert b.received == [(1, app(1, 2, i)) for i in range(2000)] + [(1, info)]
        assert a.received == [(2, app(2, 1, i, entries=3)) for i in range(2000)]
        stats = a.links.stats
        assert stats.messages_out == 2001 and stats.messages_in == 2000
        assert stats.frames_out < stats.messages_out  # batched
        assert b.links.stats.bytes_in == stats.bytes_out


async def test_a_multi_megabyte_snapshot_chunk_and_a_large_entry_run_arrive_whole() -> None:
    rng = random.Random(7)
    snap = Msg(
        MT.SNAP, 1, 2, 4,
        snap=SnapMeta(90_000, 4, ConfState((1, 2, 3), (4,), 12)),
        offset=3 << 20, data=rng.randbytes(3 << 20), done=True,
    )  # fmt: skip
    big = app(1, 2, 100, entries=20_000, size=50)
    a, b = Peer(1), Peer(2)
    async with running(a, b):
        await mesh(a, b)
        assert a.links.send(2, big) and a.links.send(2, snap) and a.links.send(2, app(1, 2, 7))
        await eventually(lambda: len(b.raft) == 3, "delivery")
        assert b.raft == [big, snap, app(1, 2, 7)]


async def test_three_peers_each_hear_the_others_in_order() -> None:
    peers = [Peer(10), Peer(20), Peer(30)]
    async with running(*peers):
        await mesh(*peers)
        for i in range(300):
            for p in peers:
                for q in peers:
                    if q is not p:
                        assert p.links.send(q.node_id, app(p.node_id, q.node_id, i))
        await eventually(lambda: all(len(p.raft) == 600 for p in peers), "delivery")
        for q in peers:
            for p in peers:
                if p is not q:
                    heard = [m for sender, m in q.received if sender == p.node_id]
                    assert heard == [app(p.node_id, q.node_id, i) for i in range(300)]


@pytest.mark.parametrize(("first", "second"), [(1, 2), (2, 1)])
async def test_when_both_dial_the_lower_ids_connection_is_kept(first: int, second: int) -> None:
    a, b = Peer(first), Peer(second)  # a calls set_peer first
    async with running(a, b):
        await mesh(a, b)
        for peer in (a, b):
            await eventually(lambda p=peer: len(p.links._live) == 1, "duplicates closed")
            (link,) = peer.links._live
            assert link.outbound == (peer.node_id == 1)
        assert a.links.send(second, app(first, second, 1))
        assert b.links.send(first, app(second, first, 2))
        await eventually(lambda: a.raft == [app(second, first, 2)], "delivery to a")
        await eventually(lambda: b.raft == [app(first, second, 1)], "delivery to b")


class QuietSocket:
    """A websocket on which nothing arrives; it records how it was closed."""

    def __init__(self) -> None:
        self.close_code: int | None = None

    async def receive(self) -> None:
        await asyncio.Event().wait()

    async def close(self, *, code: int) -> None:
        self.close_code = code


@pytest.mark.parametrize("started", [False, True])
async def test_a_stopped_link_always_closes_and_unregisters(started: bool) -> None:
    ws, forgotten = QuietSocket(), []
    link = Link(
        1, 2, ws, Session(b"k", b"k"),  # type: ignore[arg-type]
        outbound=True, limits=Limits(), stats=Stats(),
        deliver=lambda sender, message: None, on_closed=forgotten.append,
    )  # fmt: skip
    if started:
        await asyncio.sleep(0)
    link.stop(REPLACED)  # before its task ever ran: a cancel then would skip all cleanup
    await asyncio.wait_for(link.closed.wait(), timeout=5)
    assert ws.close_code == REPLACED and forgotten == [link]


async def test_a_link_comes_back_after_the_remote_restarts() -> None:
    a, b = Peer(1), Peer(2)
    async with running(a):
        await b.start()
        a.links.set_peer(2, b.addr)
        await eventually(lambda: a.links.connected() == {2}, "linked")
        await b.stop()
        await eventually(lambda: a.links.connected() == set(), "link dropped")
        assert not a.links.send(2, app(1, 2, 1))
        again = Peer(2, port=b.port)
        async with running(again):
            await eventually(lambda: a.links.connected() == {2}, "relinked", timeout=10)
            assert a.links.send(2, app(1, 2, 2))
            await eventually(lambda: again.raft == [app(1, 2, 2)], "delivery after restart")


async def test_a_changed_address_is_dialed() -> None:
    a, old, new = Peer(1), Peer(2), Peer(2)
    async with running(a, old, new):
        a.links.set_peer(2, old.addr)
        await eventually(lambda: a.links.connected() == {2}, "linked to the old address")
        await old.stop()
        await eventually(lambda: a.links.connected() == set(), "link dropped")
        a.links.set_peer(2, new.addr)
        await eventually(lambda: a.links.connected() == {2}, "linked to the new address")
        assert a.links.send(2, app(1, 2, 3))
        await eventually(lambda: new.raft == [app(1, 2, 3)], "delivery to the new address")


async def test_send_never_waits_and_refuses_what_it_cannot_deliver() -> None:
    assert not inspect.iscoroutinefunction(PeerLinks.send)
    a, b = Peer(1, limits=Limits(queue_limit=10)), Peer(2)
    async with running(a, b):
        assert not a.links.send(5, app(1, 5, 1))  # unknown peer
        a.links.set_peer(6, f"{HOST}:1")  # nothing listens there
        assert not a.links.send(6, app(1, 6, 1))
        await mesh(a, b)
        sent = [a.links.send(2, app(1, 2, i)) for i in range(15)]  # no await: nothing drains
        assert sent == [True] * 10 + [False] * 5
        assert a.links.stats.refused == 7
        await eventually(lambda: len(b.raft) == 10, "the queued ten")
        with pytest.raises(ValueError, match="limit"):
            a.links.send(2, app(1, 2, 0, entries=1, size=5 << 20))
        with pytest.raises(TypeError):
            a.links.send(2, JoinRequest(1, "a", a.addr))  # type: ignore[arg-type]


async def test_remove_peer_closes_the_link_and_stops_dialing() -> None:
    a, b = Peer(1), Peer(2)
    async with running(a, b):
        a.links.set_peer(2, b.addr)
        await eventually(lambda: b.links.connected() == {1}, "linked")
        a.links.remove_peer(2)
        await eventually(lambda: b.links.connected() == set(), "unlinked")
        assert a.links.connected() == set()
        assert not a.links.send(2, app(1, 2, 1))


async def test_join_gets_the_members_answer() -> None:
    asked: list[JoinRequest] = []

    async def on_join(request: JoinRequest) -> JoinReply:
        asked.append(request)
        return JoinReply(ok=False, leader_id=7, leader_addr="127.0.0.1:7", reason="ask the leader")

    member, silent, newcomer = Peer(1, on_join=on_join), Peer(2), Peer(3)
    async with running(member, silent, newcomer):
        request = JoinRequest(3, "newcomer", newcomer.addr)
        reply = await newcomer.links.request_join(member.addr, request, timeout=5)
        assert reply == JoinReply(False, 7, "127.0.0.1:7", "ask the leader")
        assert asked == [request]
        refused = await newcomer.links.request_join(silent.addr, request, timeout=5)
        assert not refused.ok and "join" in refused.reason
        assert member.links.connected() == set()  # a join is not a link
        with pytest.raises(ValueError):
            await newcomer.links.request_join(member.addr, JoinRequest(4, "x", "y:1"), 5)


async def test_a_failing_join_handler_gets_a_refusal_not_a_hang() -> None:
    async def on_join(request: JoinRequest) -> JoinReply:
        raise RuntimeError("bug in the node")

    member, newcomer = Peer(1, on_join=on_join), Peer(3)
    async with running(member, newcomer):
        reply = await newcomer.links.request_join(member.addr, JoinRequest(3, "n", "h:1"), 5)
        assert not reply.ok and "internal error" in reply.reason


async def test_join_fails_cleanly_without_the_secret_or_a_listener() -> None:
    member, stranger = Peer(1, on_join=lambda r: asyncio.sleep(0, JoinReply(True))), Peer(3)
    outsider = Peer(4, secret=b"wrong")
    async with running(member, stranger, outsider):
        with pytest.raises(TransportError, match="proof"):
            await outsider.links.request_join(member.addr, JoinRequest(4, "o", "h:1"), 5)
        assert outsider.links.stats.dropped_auth == 1
        with pytest.raises(TransportError):
            await stranger.links.request_join(f"{HOST}:1", JoinRequest(3, "s", "h:1"), 5)
        reply = await stranger.links.request_join(member.addr, JoinRequest(3, "s", "h:1"), 5)
        assert reply.ok


async def test_the_app_keeps_its_other_routes() -> None:
    async def rpc(request: web.Request) -> web.Response:
        return web.json_response(["rid", None, await request.json()])

    web_app = web.Application()
    web_app.router.add_post("/", rpc)
    links = PeerLinks(1, "c", b"s", lambda sender, message: None)
    links.route(web_app)
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, 0).start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://{HOST}:{port}/", json=[1]) as response:
                assert await response.json() == ["rid", None, [1]]
            async with http.get(f"http://{HOST}:{port}/peer") as response:
                assert response.status == 400  # not a websocket upgrade
    finally:
        await runner.cleanup()


async def test_a_low_level_server_can_hand_links_over() -> None:
    """The RPC server has no router: its handler passes ``GET /peer`` to ``accept``."""
    a = Peer(1)
    b_received: list[tuple[int, object]] = []
    b = PeerLinks(2, "test-cluster", b"test secret", lambda s, m: b_received.append((s, m)))

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET" and request.path == b.path:
            return await b.accept(request)
        return web.Response(text="rpc")

    runner = web.ServerRunner(web.Server(handler, access_log=None), handle_signals=False)
    await runner.setup()
    async with running(a):
        try:
            await web.TCPSite(runner, HOST, 0).start()
            a.links.set_peer(2, f"{HOST}:{runner.addresses[0][1]}")
            await eventually(lambda: b.connected() == {1}, "linked")
            assert a.links.send(2, app(1, 2, 1))
            await eventually(lambda: b_received == [(1, app(1, 2, 1))], "delivery")
        finally:
            await b.close()  # before the server: a low-level server has no on_shutdown
            await runner.cleanup()


async def test_shutting_the_app_down_closes_its_links() -> None:
    a, b = Peer(1), Peer(2)
    async with running(a, b):
        a.links.set_peer(2, b.addr)
        await eventually(lambda: b.links.connected() == {1}, "linked")
        assert b.runner is not None
        await asyncio.wait_for(b.runner.cleanup(), timeout=5)
        b.runner = None
        await eventually(lambda: a.links.connected() == set(), "the remote saw the close")
        assert b.links.connected() == set()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_close_leaves_no_task_socket_or_session_behind() -> None:
    baseline = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peers = [Peer(1), Peer(2), Peer(3, on_join=lambda r: asyncio.sleep(0, JoinReply(True)))]
        async with running(*peers):
            await mesh(*peers)
            assert peers[0].links.send(2, app(1, 2, 1))
            peers[0].links.set_peer(9, f"{HOST}:1")  # a dialer in backoff
            await peers[0].links.request_join(peers[2].addr, JoinRequest(1, "a", "h:1"), 5)
        await eventually(lambda: open_fds() == baseline, "sockets closed")
        assert asyncio.all_tasks() == {asyncio.current_task()}
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
