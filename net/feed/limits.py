"""The feed's limits: what one connection may ask for and how far behind it may fall.

They bound what a client costs the peer. The queue bounds are the slow-consumer policy: a
connection whose queue passes either is dropped (close code 1008), since a client that
cannot keep up would otherwise make the peer hold an ever longer backlog for it. The socket
buffer bounds what the kernel holds for it besides.

Operators (and tests) may override any field with an environment variable named
``DEX_FEED_`` + the field in capitals, e.g. ``DEX_FEED_QUEUE_MESSAGES=100``, as with
``net.config.Timing``.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from net.config import env_overrides


@dataclass(frozen=True, slots=True)
class FeedLimits:
    queue_messages: int = 2000  # messages queued for one connection before it is dropped
    queue_bytes: int = 4 << 20  # bytes queued for one connection before it is dropped
    # The kernel's send buffer of a feed socket (SO_SNDBUF; Linux doubles it), and what
    # aiohttp writes before it waits for the socket. Left alone they grow to megabytes,
    # hiding a client's backlog where no policy sees it.
    socket_buffer: int = 256 << 10
    heartbeat: float = 5.0  # seconds of silence after which a connection gets a heartbeat
    subscriptions: int = 32  # subscriptions per connection
    connections: int = 256  # feed connections per peer
    message_bytes: int = 4096  # a client's message; a longer one gets an error event
    since_wait: float = 10.0  # seconds a subscription may wait for its `since` to be applied
    close_within: float = 10.0  # seconds a closing connection has to take its close frame

    @property
    def frame_bytes(self) -> int:
        """The largest frame read at all; beyond it aiohttp closes the connection (1009)
        rather than buffer it."""
        return 16 * self.message_bytes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FeedLimits":
        """The defaults, with each ``DEX_FEED_<FIELD>`` in ``env`` read over its field;
        ConfigError naming the variable when one is not a positive number of its kind."""
        return cls(**env_overrides(cls(), "DEX_FEED_", env))
