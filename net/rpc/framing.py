"""Grenache's HTTP RPC framing, without the HTTP: request bodies in, reply bodies out.

A request body is ``[rid, key, payload]`` (gzipped when the ``grc-compress`` header says so) and
a reply ``[rid, error_or_null, data]``, gzipped when the request was (see
research/grenache-protocol.md §3). This module turns bytes into a checked :class:`Frame` and
back, and is pure so every malformed input can be tested without a socket.

JSON numbers are read as :class:`~decimal.Decimal` (never ``float``: ``100.25`` must stay
exactly that), ``NaN`` and ``Infinity`` are refused, and so are duplicate object keys, which
would make the payload mean whatever the last one says.
"""

import gzip
import json
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from .errors import ERR_INVALID, RpcError

#: The service name dex peers serve and announce under (the API refuses keys it does not
#: announce: ``net/grenache.py``, ``announced_names``).
SERVICE = "dex_rpc"
#: The name dex peers announce for peer links (``--grape`` discovery); its port is the API
#: port, where the links' websocket lives too.
PEER_SERVICE = "dex_peer"
#: Largest request body accepted, compressed or not.
DEFAULT_MAX_BODY = 1 << 20
#: gzip level of replies: most of the gain of 9 at a fraction of the time.
REPLY_GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Frame:
    rid: str
    key: str
    payload: object


def decode_request(body: bytes, gzipped: bool, max_body: int = DEFAULT_MAX_BODY) -> Frame:
    """Check and parse one request body; RpcError ``ERR_INVALID`` saying what is wrong."""
    if len(body) > max_body:
        raise body_too_large(max_body)
    if gzipped:
        body = _gunzip(body, max_body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        message = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise _invalid("nested too deeply") from None
    except (ValueError, ArithmeticError) as error:  # JSONDecodeError, huge ints or exponents
        raise _invalid(f"not valid JSON ({error})") from None
    if not isinstance(message, list) or len(message) != 3:
        raise _invalid("expected a JSON array [rid, key, payload]")
    rid, key, payload = message
    if not isinstance(rid, str):
        raise _invalid("rid must be a string")
    if not isinstance(key, str):
        raise _invalid("key must be a string (the service name)")
    return Frame(rid, key, payload)


def encode_reply(rid: str | None, error: str | None, data: object, gzipped: bool) -> bytes:
    """``[rid, error, data]`` as compact JSON (ASCII, so any string round-trips), maybe gzipped.

    ``data`` must hold only JSON values (amounts are already decimal strings).
    """
    body = json.dumps([rid, error, data], separators=(",", ":"), allow_nan=False).encode()
    return gzip.compress(body, REPLY_GZIP_LEVEL, mtime=0) if gzipped else body


def stream_rid(header: str) -> str | None:
    """The rid of a stream-mode request (header ``_gr: [rid, key]``), if one can be read."""
    try:
        value = json.loads(header)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def _gunzip(body: bytes, max_body: int) -> bytes:
    """Decompress at most ``max_body`` bytes (a small bomb must not become a big string)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_body + 1)
    except zlib.error as error:
        raise _invalid(f"not valid gzip ({error})") from None
    if len(out) > max_body:
        raise body_too_large(max_body, " once decompressed")
    if not inflater.eof or inflater.unused_data:
        raise _invalid("not valid gzip (truncated, or data after the end)")
    return out


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def body_too_large(max_body: int, when: str = "") -> RpcError:
    """The error of a body over the limit (also raised by the server before reading one)."""
    return _invalid(f"larger than {max_body} bytes{when}")


def _invalid(reason: str) -> RpcError:
    return RpcError(ERR_INVALID, f"body: {reason}")


def own_service(peer_name: str) -> str:
    """The name one peer answers under alone, ``dex_rpc:<name>``.

    ``dex_rpc`` reaches any peer, but writes are owned by the peer's trader, so a client that
    places and later cancels an order must reach the same peer both times.
    """
    return f"{SERVICE}:{peer_name}"


def announced_names(peer_name: str) -> tuple[str, ...]:
    """Every name a dex peer announces (docs/grenache.md)."""
    return (SERVICE, own_service(peer_name), PEER_SERVICE)
