"""Proving both ends know the cluster secret, then tagging every frame (sans-I/O).

The handshake is three messages over a fresh connection, each one binary websocket message:

1. client -> server, *hello*: protocol name, purpose (link or join), client node id, client
   nonce, cluster id.
2. server -> client, *challenge*: server node id, server nonce, server proof.
3. client -> server, *proof*: client proof.

Both proofs are HMAC-SHA256 under the cluster secret of one transcript (protocol, purpose,
cluster id, both node ids, both nonces), with a different label for each side, so neither
can be replayed as the other, and fresh 32-byte nonces from :mod:`secrets` make every
transcript new. The server proves first and the client answers only a valid proof, so a
stranger posing as a server learns nothing it could use. Compares are constant-time. The
server refuses a link whose hello names another cluster; an empty cluster id (a peer not in
a cluster yet) matches any, and the transcript binds the one the client sent. A join request
may come from another cluster (a peer moving over, or asking whether that cluster lives):
the node's answer says why it refuses, which a refused handshake could not.

Each direction then has its own frame key, HMAC(secret, label, transcript), and a counter
starting at 0. A frame is ``body || HMAC(key, counter || body)``; the counter is not sent,
so a replayed, reordered, dropped-then-resumed or truncated frame fails its tag.
"""

import hashlib
import hmac
import secrets
from enum import IntEnum

from .wire import U8, U64, DecodeError, Reader, text_bytes

PROTOCOL = b"dex-peer/1"
NONCE = 32
TAG = 32  # bytes of the frame tag (a full HMAC-SHA256)

_SERVER_PROOF, _CLIENT_PROOF, _CLIENT_KEY, _SERVER_KEY = b"\x01", b"\x02", b"\x03", b"\x04"


class AuthError(Exception):
    """The other end did not prove it knows the secret, or broke the protocol doing so."""


class Purpose(IntEnum):
    LINK = 1  # a long-lived link carrying raft and control messages both ways
    JOIN = 2  # one JoinRequest, one JoinReply, then close


class Session:
    """Seals outgoing and opens incoming frames of one authenticated connection."""

    __slots__ = ("_received", "_recv_mac", "_send_mac", "_sent")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        # keyed once; each frame copies the keyed state instead of hashing the key again
        self._send_mac = hmac.new(send_key, digestmod=hashlib.sha256)
        self._recv_mac = hmac.new(recv_key, digestmod=hashlib.sha256)
        self._sent = 0
        self._received = 0

    def seal(self, body: bytes) -> bytes:
        """The frame carrying ``body``: frames must be sent in the order they are sealed."""
        mac = self._send_mac.copy()
        mac.update(U64.pack(self._sent))
        mac.update(body)
        self._sent += 1
        return body + mac.digest()

    def open(self, frame: bytes) -> int:
        """Check the next received frame's tag; return where its body ends. AuthError if bad."""
        end = len(frame) - TAG
        if end < 0:
            raise AuthError("frame shorter than its tag")
        mac = self._recv_mac.copy()
        mac.update(U64.pack(self._received))
        with memoryview(frame) as view:
            mac.update(view[:end])
        if not hmac.compare_digest(mac.digest(), frame[end:]):
            raise AuthError("frame tag does not verify (tampered, replayed, reordered or cut)")
        self._received += 1
        return end


class ClientHandshake:
    """The dialing side. ``expect`` is the node id we mean to reach (0: whoever answers)."""

    def __init__(
        self, secret: bytes, cluster_id: str, node_id: int, purpose: Purpose, expect: int = 0
    ) -> None:
        self._secret = secret
        self._cluster = text_bytes(cluster_id)
        self._node_id = node_id
        self._purpose = purpose
        self._expect = expect
        self._nonce = secrets.token_bytes(NONCE)
        self.peer = 0  # the server's node id, once proven

    def hello(self) -> bytes:
        return b"".join(
            (PROTOCOL, U8.pack(self._purpose), U64.pack(self._node_id), self._nonce, self._cluster)
        )

    def finish(self, challenge: bytes) -> tuple[bytes, Session]:
        """Check the server's challenge; return our proof to send and the session."""
        try:
            reader = Reader(challenge)
            server_id = reader.u64()
            server_nonce = reader.take(NONCE)
            proof = reader.take(TAG)
            reader.finish()
        except DecodeError as error:
            raise AuthError(f"malformed challenge: {error}") from None
        if self._expect and server_id != self._expect:
            raise AuthError(f"reached node {server_id}, expected {self._expect}")
        _check_ids(self._node_id, server_id)
        transcript = _transcript(
            self._purpose, self._cluster, self._node_id, server_id, self._nonce, server_nonce
        )
        if not hmac.compare_digest(proof, _mac(self._secret, _SERVER_PROOF, transcript)):
            raise AuthError("server's proof does not verify: different cluster secret")
        self.peer = server_id
        return _mac(self._secret, _CLIENT_PROOF, transcript), _session(
            self._secret, transcript, client=True
        )


class ServerHandshake:
    """The accepting side: :meth:`challenge` a hello, then :meth:`finish` with the proof."""

    def __init__(self, secret: bytes, cluster_id: str, node_id: int) -> None:
        self._secret = secret
        self._cluster_id = cluster_id
        self._node_id = node_id
        self._transcript = b""
        self.peer = 0  # the client's node id (proven only once finish() returns)
        self.purpose = Purpose.LINK

    def challenge(self, hello: bytes) -> bytes:
        try:
            reader = Reader(hello)
            if reader.take(len(PROTOCOL)) != PROTOCOL:
                raise AuthError("not a dex peer, or another protocol version")
            purpose = reader.unpack(U8)[0]
            client_id = reader.u64()
            client_nonce = reader.take(NONCE)
            cluster_id = reader.text()
            reader.finish()
            self.purpose = Purpose(purpose)
        except DecodeError as error:
            raise AuthError(f"malformed hello: {error}") from None
        except ValueError:
            raise AuthError(f"unknown purpose {purpose}") from None
        other = cluster_id and self._cluster_id and cluster_id != self._cluster_id
        if other and self.purpose is Purpose.LINK:
            raise AuthError(f"cluster id {cluster_id!r} is not ours")
        # A peer that has no cluster yet (a newcomer, or a founder before its first entry
        # applies) presents or accepts none; the transcript binds what the client said.
        _check_ids(client_id, self._node_id)
        self.peer = client_id
        nonce = secrets.token_bytes(NONCE)
        self._transcript = _transcript(
            self.purpose, text_bytes(cluster_id), client_id, self._node_id, client_nonce, nonce
        )
        proof = _mac(self._secret, _SERVER_PROOF, self._transcript)
        return U64.pack(self._node_id) + nonce + proof

    def finish(self, proof: bytes) -> Session:
        if not self._transcript:
            raise AuthError("proof before hello")
        if not hmac.compare_digest(proof, _mac(self._secret, _CLIENT_PROOF, self._transcript)):
            raise AuthError("client's proof does not verify: different cluster secret")
        return _session(self._secret, self._transcript, client=False)


def _check_ids(client_id: int, server_id: int) -> None:
    if client_id == 0 or server_id == 0:
        raise AuthError("node id 0 is not a node")
    if client_id == server_id:
        raise AuthError(f"both ends claim node id {client_id}")


def _transcript(
    purpose: Purpose, cluster: bytes, client_id: int, server_id: int, cn: bytes, sn: bytes
) -> bytes:
    # every part is fixed-size or length-prefixed, so distinct transcripts never collide
    return b"".join(
        (PROTOCOL, U8.pack(purpose), cluster, U64.pack(client_id), U64.pack(server_id), cn, sn)
    )


def _mac(secret: bytes, label: bytes, transcript: bytes) -> bytes:
    return hmac.digest(secret, label + transcript, "sha256")


def _session(secret: bytes, transcript: bytes, *, client: bool) -> Session:
    client_key = _mac(secret, _CLIENT_KEY, transcript)
    server_key = _mac(secret, _SERVER_KEY, transcript)
    return Session(client_key, server_key) if client else Session(server_key, client_key)
