"""The peer's RPC: Grenache HTTP framing carrying the operations of spec/rpc.md.

``framing`` reads and writes the wire form, ``server`` serves it over aiohttp, ``requests``
parses payloads into typed values, ``views`` renders engine results, ``api`` joins them to a
:class:`Backend` that the peer (``net.Node``) provides, and ``client`` calls a peer.
"""

from .api import Api, Backend
from .client import RpcClient, call
from .errors import RpcError
from .framing import SERVICE
from .server import Limits, RpcServer

__all__ = ["SERVICE", "Api", "Backend", "Limits", "RpcClient", "RpcError", "RpcServer", "call"]
