"""What a stranger or a misbehaving peer gets: nothing delivered; counted; disconnected."""

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType
from transport_helpers import HOST, Peer, app, eventually, mesh, raw_link, running

from net.transport import JoinReply, JoinRequest, Limits, encode, encode_batch
from net.transport.auth import TAG, ClientHandshake, Purpose, Session


async def test_a_peer_without_the_secret_cannot_link_either_way() -> None:
    member, outsider = Peer(1), Peer(2, secret=b"a guess")
    async with running(member, outsider):
        member.links.set_peer(2, outsider.addr)
        outsider.links.set_peer(1, member.addr)
        # each side's dialer finds the other's proof wrong, and keeps retrying
        for peer in (member, outsider):
            await eventually(lambda p=peer: p.links.stats.dropped_auth >= 2, "refusals counted")
        assert outsider.links.send(1, app(2, 1, 1)) is False
        assert member.links.connected() == outsider.links.connected() == set()
        assert member.received == outsider.received == []


async def test_a_forged_proof_is_refused_and_counted_by_the_server() -> None:
    member = Peer(1)
    async with running(member), aiohttp.ClientSession() as http:
        async with http.ws_connect(f"http://{member.addr}/peer") as ws:
            await ws.send_bytes(
                ClientHandshake(b"a guess", "test-cluster", 9, Purpose.LINK).hello()
            )
            assert (await ws.receive(timeout=5)).type is WSMsgType.BINARY  # the challenge
            await ws.send_bytes(bytes(TAG))
            closing = await ws.receive(timeout=5)
            assert closing.type is WSMsgType.CLOSE and closing.data == WSCloseCode.POLICY_VIOLATION
        assert member.links.stats.dropped_auth == 1
        assert member.links.connected() == set()


async def test_another_cluster_is_refused_and_counted() -> None:
    member, stranger = Peer(1), Peer(2, cluster="another-cluster")
    async with running(member, stranger):
        stranger.links.set_peer(1, member.addr)
        await eventually(lambda: member.links.stats.dropped_auth >= 1, "refusal counted")
        assert member.links.connected() == stranger.links.connected() == set()
        assert member.received == []


#: Sends something bad, given the socket, its session and the good frame already delivered.
Attack = Callable[[aiohttp.ClientWebSocketResponse, Session, bytes], Awaitable[None]]


def frame(session: Session, *messages: object) -> bytes:
    return session.seal(encode_batch(encode(m) for m in messages))  # type: ignore[arg-type]


async def tampered(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    good = frame(session, app(9, 1, 2))
    await ws.send_bytes(good[:3] + bytes([good[3] ^ 0x40]) + good[4:])


async def replayed(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    await ws.send_bytes(good)


async def reordered(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    first, second = frame(session, app(9, 1, 2)), frame(session, app(9, 1, 3))
    await ws.send_bytes(second)
    await ws.send_bytes(first)


async def truncated(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    await ws.send_bytes(frame(session, app(9, 1, 2))[:-5])


async def sealed_garbage(
    ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes
) -> None:
    await ws.send_bytes(session.seal(b"\x05\x00\x00\x00\x01garbage"))


async def sealed_truncated_message(
    ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes
) -> None:
    await ws.send_bytes(session.seal(encode_batch([encode(app(9, 1, 2))[:-3]])))


async def another_senders_vote(
    ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes
) -> None:
    await ws.send_bytes(frame(session, app(9, 1, 2), app(3, 1, 2)))  # frm 3 over node 9's link


async def misaddressed(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    await ws.send_bytes(frame(session, app(9, 4, 2)))


async def join_over_a_link(
    ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes
) -> None:
    await ws.send_bytes(frame(session, JoinRequest(9, "x", "h:1")))


async def text(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    await ws.send_str("hello")


async def oversized(ws: aiohttp.ClientWebSocketResponse, session: Session, good: bytes) -> None:
    await ws.send_bytes(frame(session, app(9, 1, 2, size=SMALL.max_frame)))


SMALL = Limits(max_frame=64 << 10, batch_bytes=32 << 10, queue_bytes=64 << 10)


@pytest.mark.parametrize(
    ("attack", "counter"),
    [
        (tampered, "dropped_auth"),
        (replayed, "dropped_auth"),
        (reordered, "dropped_auth"),
        (truncated, "dropped_auth"),
        (sealed_garbage, "dropped_malformed"),
        (sealed_truncated_message, "dropped_malformed"),
        (another_senders_vote, "dropped_malformed"),
        (misaddressed, "dropped_malformed"),
        (join_over_a_link, "dropped_malformed"),
        (text, "dropped_malformed"),
        (oversized, "dropped_malformed"),
    ],
)
async def test_a_bad_frame_is_dropped_counted_and_closes_the_link(
    attack: Attack, counter: str
) -> None:
    member, friend = Peer(1, limits=SMALL), Peer(2, limits=SMALL)
    async with running(member, friend):
        await mesh(member, friend)
        async with raw_link(member.port, node_id=9, expect=1) as (ws, session):
            good = frame(session, app(9, 1, 1))
            await ws.send_bytes(good)
            await eventually(lambda: member.raft == [app(9, 1, 1)], "the good frame")
            await attack(ws, session, good)
            closing = await ws.receive(timeout=5)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        assert getattr(member.links.stats, counter) == 1
        stats = member.links.stats
        assert stats.dropped_auth + stats.dropped_malformed == 1
        assert member.raft == [app(9, 1, 1)]  # nothing of the bad frame
        assert friend.links.send(1, app(2, 1, 5))  # the receiver still works
        await eventually(lambda: member.raft[-1:] == [app(2, 1, 5)], "delivery after the attack")


async def test_unauthenticated_connections_are_bounded_in_number_and_time() -> None:
    limits = Limits(max_handshakes=1, handshake_timeout=0.3)
    member = Peer(1, limits=limits)
    async with running(member), aiohttp.ClientSession() as http:
        url = f"http://{HOST}:{member.port}/peer"
        async with http.ws_connect(url) as silent:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url)
            assert refused.value.status == 503
            closing = await silent.receive(timeout=5)  # the server gave up waiting for a hello
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        await eventually(lambda: not member.links._pending, "slot freed")
        async with raw_link(member.port, node_id=9) as (ws, session):
            await ws.send_bytes(frame(session, app(9, 1, 1)))
            await eventually(lambda: member.raft == [app(9, 1, 1)], "a proper peer still gets in")


async def test_a_join_for_another_node_is_refused() -> None:
    asked: list[JoinRequest] = []

    async def on_join(request: JoinRequest) -> JoinReply:
        asked.append(request)
        return JoinReply(ok=True)

    member = Peer(1, on_join=on_join)
    async with running(member):
        async with raw_link(member.port, node_id=9, purpose=Purpose.JOIN) as (ws, session):
            await ws.send_bytes(frame(session, JoinRequest(8, "not me", "h:1")))
            closing = await ws.receive(timeout=5)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        assert member.links.stats.dropped_malformed == 1
        assert asked == []


async def test_a_peer_that_stops_answering_pings_is_dropped() -> None:
    member = Peer(1, limits=Limits(heartbeat=0.2))
    async with running(member), raw_link(member.port, node_id=9, autoping=False):
        await eventually(lambda: member.links.connected() == {9}, "linked")
        await eventually(lambda: member.links.connected() == set(), "dropped", timeout=3)
