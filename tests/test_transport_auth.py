"""The handshake and frame tags, without sockets: who can authenticate, what a tag catches."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from net.transport.auth import (
    TAG,
    AuthError,
    ClientHandshake,
    Purpose,
    ServerHandshake,
    Session,
)

SECRET = b"cluster secret"


def handshake(
    client_secret: bytes = SECRET,
    server_secret: bytes = SECRET,
    client_cluster: str = "c1",
    server_cluster: str = "c1",
    expect: int = 2,
) -> tuple[Session, Session]:
    """Client node 1 authenticates to server node 2; both sessions."""
    client = ClientHandshake(client_secret, client_cluster, 1, Purpose.LINK, expect)
    server = ServerHandshake(server_secret, server_cluster, 2)
    proof, client_session = client.finish(server.challenge(client.hello()))
    server_session = server.finish(proof)
    assert (client.peer, server.peer, server.purpose) == (2, 1, Purpose.LINK)
    return client_session, server_session


def test_both_ends_with_the_secret_talk_both_ways() -> None:
    client, server = handshake()
    for n in range(3):
        body = f"frame {n}".encode()
        frame = client.seal(body)
        assert frame[: server.open(frame)] == body
        reply = server.seal(body * 2)
        assert reply[: client.open(reply)] == body * 2


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param({"client_secret": b"guess"}, id="client without the secret"),
        pytest.param({"server_secret": b"guess"}, id="server without the secret"),
        pytest.param({"client_cluster": "c2"}, id="another cluster"),
        pytest.param({"expect": 3}, id="not the node we dialed"),
    ],
)
def test_a_mismatch_stops_the_handshake(setup: dict) -> None:
    with pytest.raises(AuthError):
        handshake(**setup)


@pytest.mark.parametrize(("client_cluster", "server_cluster"), [("", "c1"), ("c1", ""), ("", "")])
def test_a_peer_with_no_cluster_yet_matches_any(client_cluster: str, server_cluster: str) -> None:
    client, server = handshake(client_cluster=client_cluster, server_cluster=server_cluster)
    assert server.open(client.seal(b"hello")) == len(b"hello")


def test_a_join_request_may_come_from_another_cluster_a_link_may_not() -> None:
    """A peer of cluster c2 may ask a member of c1 to let it in (the answer says no, and
    why, or the peer is moving over); it may never link to it."""
    join = ClientHandshake(SECRET, "c2", 1, Purpose.JOIN, 2)
    server = ServerHandshake(SECRET, "c1", 2)
    proof, _ = join.finish(server.challenge(join.hello()))
    server.finish(proof)
    assert server.purpose is Purpose.JOIN
    link = ClientHandshake(SECRET, "c2", 1, Purpose.LINK, 2)
    with pytest.raises(AuthError, match="not ours"):
        ServerHandshake(SECRET, "c1", 2).challenge(link.hello())


def test_a_client_without_the_secret_gets_no_session_from_the_server() -> None:
    client = ClientHandshake(b"guess", "c1", 1, Purpose.LINK)
    server = ServerHandshake(SECRET, "c1", 2)
    server.challenge(client.hello())
    with pytest.raises(AuthError, match="proof"):
        server.finish(bytes(TAG))


def test_a_recorded_proof_does_not_open_a_new_handshake() -> None:
    client = ClientHandshake(SECRET, "c1", 1, Purpose.LINK)
    hello = client.hello()
    first = ServerHandshake(SECRET, "c1", 2)
    proof, _ = client.finish(first.challenge(hello))
    replayed = ServerHandshake(SECRET, "c1", 2)
    replayed.challenge(hello)  # a fresh server nonce
    with pytest.raises(AuthError):
        replayed.finish(proof)


def test_the_server_proof_cannot_be_reflected_as_a_client_proof() -> None:
    client = ClientHandshake(SECRET, "c1", 1, Purpose.LINK)
    server = ServerHandshake(SECRET, "c1", 2)
    challenge = server.challenge(client.hello())
    with pytest.raises(AuthError):
        server.finish(challenge[-TAG:])


@pytest.mark.parametrize(("client_id", "server_id"), [(0, 2), (2, 2)])
def test_impossible_node_ids_are_refused(client_id: int, server_id: int) -> None:
    client = ClientHandshake(SECRET, "c1", client_id, Purpose.JOIN)
    with pytest.raises(AuthError, match="node id"):
        ServerHandshake(SECRET, "c1", server_id).challenge(client.hello())


def test_a_proof_before_the_hello_is_refused() -> None:
    with pytest.raises(AuthError):
        ServerHandshake(SECRET, "c1", 2).finish(bytes(TAG))


@given(st.binary(max_size=200))
def test_arbitrary_hello_or_challenge_bytes_raise_only_auth_error(data: bytes) -> None:
    with pytest.raises(AuthError):
        ServerHandshake(SECRET, "c1", 2).challenge(data)
    with pytest.raises(AuthError):
        ClientHandshake(SECRET, "c1", 1, Purpose.LINK).finish(data)


def test_tampered_replayed_reordered_or_cut_frames_fail_and_do_not_advance() -> None:
    client, server = handshake()
    first, second = client.seal(b"first"), client.seal(b"second")
    tampered = bytes([first[0] ^ 1]) + first[1:]
    bad_frames = [tampered, second, first[:-1], first[1:], first[: TAG - 1], b""]
    for bad in bad_frames:
        with pytest.raises(AuthError):
            server.open(bad)
    assert server.open(first) == len(b"first")  # a failure did not advance the counter
    with pytest.raises(AuthError):
        server.open(first)  # replayed
    assert server.open(second) == len(b"second")


def test_frames_of_one_direction_do_not_verify_in_the_other() -> None:
    client, server = handshake()
    with pytest.raises(AuthError):
        client.open(client.seal(b"echo"))
    other_client, _ = handshake()
    with pytest.raises(AuthError):
        server.open(other_client.seal(b"from another connection"))
