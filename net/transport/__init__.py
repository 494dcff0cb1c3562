"""The peer-to-peer transport: binary codec, authenticated websocket links (docs/transport.md)."""

from .auth import AuthError
from .codec import Message, decode, decode_batch, encode, encode_batch
from .control import JoinReply, JoinRequest, PeerInfo
from .link import Limits, Stats
from .links import PeerLinks, TransportError
from .wire import DecodeError

__all__ = [
    "AuthError",
    "DecodeError",
    "JoinReply",
    "JoinRequest",
    "Limits",
    "Message",
    "PeerInfo",
    "PeerLinks",
    "Stats",
    "TransportError",
    "decode",
    "decode_batch",
    "encode",
    "encode_batch",
]
