"""The peer's RPC: Grenache HTTP framing carrying the operations of spec/rpc.md.

``framing`` reads and writes the wire form, ``server`` serves it over aiohttp, ``requests``
parses payloads into typed values, ``views`` renders engine results, ``api`` joins them to
the peer (``net.peer.Peer``; ``net.Node`` is one), and ``client`` calls a peer.
"""

from .api import Api
from .client import RpcClient, call
from .errors import RpcError
from .framing import SERVICE
from .server import Limits, RpcServer

__all__ = ["SERVICE", "Api", "Limits", "RpcClient", "RpcError", "RpcServer", "call"]
