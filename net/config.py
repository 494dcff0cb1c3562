"""What a peer is told at start (spec/cli.md), checked before anything starts.

The command line builds a :class:`PeerConfig`; :func:`PeerConfig.check` refuses what would
be unsafe or cannot work with a one-line reason (the CLI exits 2 with it).
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine import FOUNDING_MARKETS, Configure, Exchange, Rejected
from engine.accounts import DEFAULT_GRANT, MAX_FEE_BPS

#: The secret of a peer that never leaves this machine. Anything listening beyond loopback
#: must be given a real one (--secret or DEX_SECRET).
LOCAL_SECRET = "dex-local-only"
MIN_SECRET = 16
MIN_TOKEN = 16


#: The cyclic garbage collector's thresholds in a peer process. The engine's objects are
#: many, long-lived and acyclic (reference counting frees them), so scanning them often is
#: pure cost: with CPython's defaults the engine runs at about a third of its speed.
GC_THRESHOLDS = (50_000, 50, 50)


class ConfigError(ValueError):
    """A bad option; the message names it and says why, in one line."""


_KINDS = {int: "an integer", float: "a number"}


def env_overrides(defaults: Any, prefix: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The fields of the dataclass ``defaults`` that ``env`` sets (``PREFIX`` + the field in
    capitals), as numbers of the field's kind; ConfigError naming the variable when one is
    not a positive number of that kind. (Timing here, the feed's limits in net/feed.)"""
    values: dict[str, Any] = {}
    for each in fields(defaults):
        name = f"{prefix}{each.name.upper()}"
        text = env.get(name)
        if text is None:
            continue
        kind: type = type(getattr(defaults, each.name))
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"{name}: expected {_KINDS[kind]}, got {text!r}") from None
        if value <= 0:
            raise ConfigError(f"{name}: must be positive")
        values[each.name] = value
    return values


@dataclass(slots=True)
class Timing:
    """Consensus and membership timing (seconds and ticks).

    Operators (and tests) may override any field with an environment variable named
    ``DEX_`` + the field in capitals, e.g. ``DEX_SNAPSHOT_EVERY=500``; see :meth:`from_env`.
    """

    tick: float = 0.05  # one Raft tick
    election_ticks: int = 10  # election timeout: 10 to 20 ticks (0.5 to 1 s)
    heartbeat_ticks: int = 1
    request_timeout: float = 10.0  # a write not applied by then is ERR_TIMEOUT
    retry_after: float = 1.5  # re-propose a write not applied by then (deduplicated)
    no_leader_grace: float = 2.0  # a write waits this long for a leader, then ERR_NO_QUORUM
    found_after: float = 2.0  # look this long (mDNS queries sent) for a cluster before founding
    join_every: float = 1.0  # a peer that wants in asks again this often, until it is a member
    remove_after: float = 30.0  # a voter unreachable this long is replaced, if quorum allows
    promote_heard: float = 1.0  # a learner is promoted only if heard from this recently
    alive_within: float = 2.0  # a voter heard from this recently counts as reachable
    snapshot_every: int = 20_000  # applied entries between snapshots
    keep_entries: int = 5_000  # entries kept behind a snapshot for slow followers

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Timing":
        return cls(**env_overrides(cls(), "DEX_", env))


@dataclass(slots=True)
class PeerConfig:
    name: str | None = None
    data_dir: Path | None = None
    bind: str = "127.0.0.1"
    api_port: int = 0
    peers: list[str] = field(default_factory=list)  # "host:port" seeds
    discovery: bool = True
    interface: str = "127.0.0.1"
    secret: str = ""
    grape: str | None = None
    scenario: Path | None = None
    market: str | None = None
    cluster: str | None = None  # None: the name the data dir remembers, else "dex"
    force_new_cluster: bool = False
    grant: str = DEFAULT_GRANT  # founding only: what every newly registered trader receives
    maker_fee_bps: int = 0  # founding only
    taker_fee_bps: int = 0
    api_token: str = ""  # off loopback, RPC writes need it
    max_voters: int = 5
    timing: Timing = field(default_factory=Timing)

    def check(self) -> None:
        """Refuse bad or unsafe options (ConfigError); fill in the secret default."""
        _address(self.bind, "--bind")
        if not 0 <= self.api_port <= 65535:
            raise ConfigError(f"--api-port: {self.api_port} is not a port number (0-65535)")
        for peer in self.peers:
            split_addr(peer, "--peer")
        if self.interface != "all":
            _address(self.interface, "--interface")
        self.secret = self.secret or os.environ.get("DEX_SECRET", "")
        local = ipaddress.ip_address(self.bind).is_loopback
        if not self.secret:
            if not local:
                raise ConfigError("--secret: required when --bind is not a loopback address")
            self.secret = LOCAL_SECRET
        elif len(self.secret) < MIN_SECRET and not local:
            raise ConfigError(f"--secret: use at least {MIN_SECRET} characters off loopback")
        if self.scenario is not None and not self.scenario.is_file():
            raise ConfigError(f"--scenario: no such file: {self.scenario}")
        if self.grape is not None and not self.grape.startswith(("http://", "https://")):
            raise ConfigError(
                f"--grape: expected a URL such as http://127.0.0.1:30001, got {self.grape}"
            )
        if not 1 <= self.max_voters <= 9:
            raise ConfigError("max voters: between 1 and 9")
        self.api_token = self.api_token or os.environ.get("DEX_API_TOKEN", "")
        if self.api_token and len(self.api_token) < MIN_TOKEN:
            raise ConfigError(f"--api-token: use at least {MIN_TOKEN} characters")
        self._check_money()

    @property
    def money(self) -> Configure:
        """The founding entry's money command (grant and fees)."""
        return Configure(self.grant, self.maker_fee_bps, self.taker_fee_bps)

    def _check_money(self) -> None:
        """The grant and fees as the engine will read them: tried on a scratch exchange with
        the founding markets, so the CLI refuses exactly what founding would."""
        for option, bps in (("--maker-fee-bps", self.maker_fee_bps),
                            ("--taker-fee-bps", self.taker_fee_bps)):  # fmt: skip
            if not 0 <= bps <= MAX_FEE_BPS:
                raise ConfigError(f"{option}: expected basis points from 0 to {MAX_FEE_BPS}")
        scratch = Exchange()
        for index, market in enumerate(FOUNDING_MARKETS, 1):
            scratch.apply(market, index)
        for event in scratch.apply(self.money, len(FOUNDING_MARKETS) + 1):
            if isinstance(event, Rejected):
                raise ConfigError(f"--grant: {event.reason.removeprefix('grant').lstrip(': ')}")


def split_addr(text: str, option: str) -> tuple[str, int]:
    """``host:port`` → (host, port), or ConfigError naming ``option``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{option}: expected HOST:PORT, got {text!r}")
    return host, int(port)


def _address(text: str, option: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not an IP address") from None
