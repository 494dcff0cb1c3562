"""Traders: each is an Ed25519 key; its name is registered in the log; its commands are signed.

A trader *is* its public key, kept (private half too) in its peer's data dir, ``trader.key``
(mode 0600). Its name is bound to the key by a signed ``register`` command, first come first
served, and from then on the log knows that name by that key alone.

Every trader command travels in a **signed batch**: one log entry holds the commands one
peer's trader made since the last entry, each with its request number, and one signature
over all of them (``signed_payload``). Every peer verifies that signature when it applies
the entry (``net/machine.py``), before the engine sees a command, and sets each command's
owner from the key, so no member (the leader included) can act for a trader whose key it
lacks: a forged or altered batch is refused identically on every peer. Replays are refused
by the request numbers: each is unique per trader (``net/writes.py``) and the machine
applies a (trader, number) once, ever (its window of old numbers, ``Requests``, refuses
anything older as done).

An entry is laid out byte for byte as ``{"t":["KEY","SIGNATURE",REQUESTS]}`` (compact JSON,
the key and signature of fixed length), and the signature covers ``[cluster id, key,
REQUESTS]`` with REQUESTS exactly as those bytes: the cluster id keeps a batch signed for
one cluster from being replayed into another where the same key trades. A verifier checks
the layout, takes the requests' bytes from their fixed place and checks the signature over
them, then uses what the JSON parser read from the same bytes; nothing is encoded twice
(re-encoding a full entry costs about three times parsing it). This is sound because the
layout leaves the parser no choice: after the fixed head comes exactly one JSON value, the
signed one, then ``]}``; bytes the key's owner did not sign fail the check.

Why ``cryptography`` (PyCA, OpenSSL's Ed25519) rather than PyNaCl: it is the Python
ecosystem's maintained default, ships wheels for every platform the peer runs on, and gives
raw 32-byte keys without a second binding; verification costs about 0.13 ms, paid once per
batch (``bench/cluster.py`` reports it).

What this does not do: Raft tolerates crashes, not lies. A malicious leader cannot forge a
trader's command, but it can still delay, reorder or drop them (``docs/node.md``).
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine import Command, encode_command

KEY_FILE = "trader.key"
KEY_HEX = 64  # characters of a public key in hex
SIG_HEX = 128
SIGNED = b"dex-signed-batch/1\n"
_HEAD = b'{"t":["'
_KEY_AT = len(_HEAD)
_SIG_AT = _KEY_AT + KEY_HEX + 3  # after the key's '","'
_ITEMS_AT = _SIG_AT + SIG_HEX + 2  # after the signature's closing quote and comma
#: Operations a trader may sign; anything else in a signed batch is refused.
TRADER_OPS = frozenset({"submit", "cancel", "cancel_all", "amend", "transfer", "register"})


class KeyFileError(Exception):
    """The key file cannot be used; the message names it and why, in one line."""


@dataclass(frozen=True, slots=True)
class Register:
    """Bind ``name`` to the signing key (a trader command, handled by the machine)."""

    name: str


TraderCommand = Command | Register


class TraderKey:
    """A trader's signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key().public_bytes_raw()
        self.hex = self.public.hex()

    @classmethod
    def from_seed(cls, seed: bytes) -> "TraderKey":
        """A key from 32 bytes (the simulator draws them from its seeded generator)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load_or_create(cls, directory: Path) -> "TraderKey":
        """The key in ``directory/trader.key``, made (mode 0600) if there is none."""
        path = directory / KEY_FILE
        try:
            seed = bytes.fromhex(path.read_text().strip())
            if len(seed) != 32:
                raise ValueError("not 32 bytes")
        except FileNotFoundError:
            seed = os.urandom(32)
            tmp = path.with_name(KEY_FILE + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(seed.hex() + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"{path}: not a dex trader key ({exc})") from None
        if path.stat().st_mode & 0o077:
            raise KeyFileError(f"{path}: readable by others; chmod 600 it")
        return cls.from_seed(seed)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.hex)

    def sign(self, data: bytes) -> str:
        return self._private.sign(data).hex()


def fingerprint(key_hex: str) -> str:
    """A short, readable name for a key: the first 8 bytes of its SHA-256, grouped."""
    digest = hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()[:16]
    return ":".join(digest[i : i + 4] for i in range(0, 16, 4))


def encode_trader_command(command: TraderCommand) -> dict:
    """A trader command's JSON-safe form, as signed: without its owner (the key is)."""
    if isinstance(command, Register):
        return {"op": "register", "name": command.name}
    form = encode_command(command)
    form.pop("owner", None)
    return form


def _signed_bytes(cluster_id: str, key: bytes, requests: bytes) -> bytes:
    """What a batch's signature covers: ``[cluster id, key, requests]`` as compact JSON."""
    return b"".join(
        (SIGNED, b"[", json.dumps(cluster_id).encode(), b',"', key, b'",', requests, b"]")
    )


def signed_bytes(cluster_id: str, key_hex: str, items: list) -> bytes:
    """What the signature of a batch of ``items`` by ``key_hex`` covers."""
    return _signed_bytes(cluster_id, key_hex.encode(), _requests(items))


def _requests(items: list) -> bytes:
    return json.dumps(items, separators=(",", ":"), ensure_ascii=True).encode()


def signed_payload(key: TraderKey, cluster_id: str, items: list) -> bytes:
    """A log entry carrying ``items`` ([origin, seq, command]) signed by ``key``."""
    requests = _requests(items)
    hex_key = key.hex.encode()
    signature = key.sign(_signed_bytes(cluster_id, hex_key, requests)).encode()
    return b"".join((_HEAD, hex_key, b'","', signature, b'",', requests, b"]}"))


class Verifier:
    """Checks batch signatures; caches each key's parsed form (not replicated state)."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

    def check(self, cluster_id: str, key_hex: str, signature: str, payload: bytes) -> str:
        """Why ``payload`` (an entry whose JSON reads ``{"t": [key_hex, signature, ...]}``)
        is not a batch ``key_hex`` signed for this cluster; "" when it is. It must be laid
        out as ``signed_payload`` makes it (see the module doc)."""
        if (
            len(key_hex) != KEY_HEX
            or len(signature) != SIG_HEX
            or not payload.startswith(_HEAD)
            or payload[_KEY_AT:_SIG_AT] != f'{key_hex}","'.encode()
            or payload[_SIG_AT:_ITEMS_AT] != f'{signature}",'.encode()
            or not payload.endswith(b"]}")
        ):
            return "signature: not laid out as a signed batch"
        requests = payload[_ITEMS_AT:-2]
        try:
            public = self._keys.get(key_hex)
            if public is None:
                public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[key_hex] = public
            signed = _signed_bytes(cluster_id, key_hex.encode(), requests)
            public.verify(bytes.fromhex(signature), signed)
        except (ValueError, InvalidSignature):
            return "signature: not this trader's signature over this batch"
        return ""


class NameTaken(Exception):
    """This peer's name is registered to another trader's key: it cannot trade as it."""
