"""What the feed sends: compact JSON text, and the shapes of its events.

Every message is a JSON object with the log ``index`` it reflects. Channel data has
``channel`` (and ``type``: snapshot or update); the rest are events: ``subscribed``,
``unsubscribed``, ``error`` (with ``reason``: ``"field: why"``) and ``heartbeat``.
``docs/feed.md`` lists every message.
"""

import json

from .protocol import Subscription

_COMPACT = (",", ":")


def encode(message: dict) -> str:
    """One message as the JSON text sent (ASCII: its length is its size in bytes)."""
    return json.dumps(message, separators=_COMPACT)


def heartbeat(index: int) -> str:
    return encode({"event": "heartbeat", "index": index})


def reply(event: str, subscription: Subscription, index: int, request_id: object) -> str:
    """``subscribed`` / ``unsubscribed``, naming the subscription (and the request's id)."""
    message = {"event": event, **subscription.named(), "index": index}
    if request_id is not None:
        message["id"] = request_id
    return encode(message)


def error(reason: str, index: int, context: dict | None = None, **extra: object) -> str:
    """An error event: ``reason`` names the field; ``context`` echoes the request's id,
    channel and market when it had them."""
    return encode({"event": "error", **(context or {}), "reason": reason, **extra, "index": index})
