"""Real peers in real processes on loopback, for the multi-process tests.

:class:`Peer` starts ``dex-tui --headless`` (the entry point outside tests use), waits for
its ready line, talks to it through the RPC, and ends it by PID: SIGTERM (a clean leave)
or SIGKILL. :class:`Cluster` owns a set of them and their temp data dirs, and tears
everything down even when a test fails. Nothing here sleeps for a fixed time: every wait
polls a condition against a deadline.
"""

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from net.rpc.client import RpcClient
from net.rpc.errors import RpcError

READY = "dex: ready name="


async def until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll the async ``condition`` until true; AssertionError naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await condition():
                return
        except (RpcError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def poll(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll the plain ``condition`` (an in-process peer's state) until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class Peer:
    def __init__(
        self, name: str, data_dir: Path, args: list[str], log: Path, env: dict[str, str]
    ) -> None:
        self.name = name
        self.env = env
        self.data_dir = data_dir
        self.args = args
        self.log_path = log
        self.proc: subprocess.Popen | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.client: RpcClient | None = None

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self, *once: str, timeout: float = 20.0) -> None:
        """Start (or start again) and wait for the ready line; ``once``: arguments for this
        start only (say ``--force-new-cluster``)."""
        cmd = [sys.executable, "-m", "dex_tui.cli", "--headless", "--name", self.name,
               "--data-dir", str(self.data_dir), *self.args, *once]  # fmt: skip
        if self.port:
            cmd += ["--api-port", str(self.port)]  # a restart keeps its address
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        env = {**os.environ, **self.env}
        # a session of its own: the scheduler's autogroup too, so a benchmark can renice it
        # without renicing its own process
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                     start_new_session=True)  # fmt: skip
        log.close()
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        if not line.startswith(READY):
            raise AssertionError(f"{self.name} did not start: {line!r}; see {self.log_path}")
        addr = line.split("api=")[1].strip()
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.client = RpcClient(self.host, self.port, timeout=15.0)

    async def call(self, payload: dict, timeout: float | None = None) -> object:
        assert self.client is not None
        return await self.client.call(payload, timeout=timeout)

    async def status(self) -> dict:
        return await self.call({"op": "status"})  # type: ignore[return-value]

    async def stop(self, timeout: float = 8.0) -> int:
        """SIGTERM and wait: the clean leave. Returns the exit code."""
        await self._close_client()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, timeout)

    async def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed, nothing said goodbye."""
        await self._close_client()
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait, 10)

    async def _close_client(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None


def cluster_name() -> str:
    """A cluster name of a test's own: its peers never meet anybody else's (spec/cli.md)."""
    return f"t-{secrets.token_hex(5)}"


class Cluster:
    """Peers started for one test; :meth:`close` ends every one still running. They all
    get one ``--cluster`` name of their own (:attr:`name`) unless a peer's arguments give
    another."""

    def __init__(
        self, root: Path, common: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.name = cluster_name()
        self.common = common or ["--no-discovery"]
        self.env = env or {}  # e.g. timing overrides, DEX_SNAPSHOT_EVERY=...
        self.peers: list[Peer] = []

    def peer(self, name: str, *args: str) -> Peer:
        args = ("--cluster", self.name, *self.common, *args)
        peer = Peer(name, self.root / name, list(args), self.root / f"{name}.log", self.env)
        self.peers.append(peer)
        return peer

    async def start(self, name: str, *args: str) -> Peer:
        peer = self.peer(name, *args)
        await peer.start()
        return peer

    async def grow(self, count: int, prefix: str = "p") -> list[Peer]:
        """A founder and ``count - 1`` peers joining through it, all voters or learners."""
        first = await self.start(f"{prefix}0")
        await until(lambda: _has_markets(first), 20, "the founder's markets")
        others = [await self.start(f"{prefix}{i}", "--peer", first.addr) for i in range(1, count)]
        for peer in others:  # a member that has applied the markets can take orders
            await until(lambda p=peer: _has_markets(p), 60, f"{peer.name} to catch up")
        return [first, *others]

    async def close(self) -> None:
        for peer in self.peers:
            await peer.kill()

    def logs(self) -> str:
        """Every peer's stderr, for a failing test's report."""
        return "\n".join(
            f"--- {p.name}\n{p.log_path.read_text(errors='replace')[-3000:]}"
            for p in self.peers
            if p.log_path.exists()
        )


async def _has_markets(peer: Peer) -> bool:
    return len(await peer.call({"op": "markets"})) >= 2  # type: ignore[arg-type]


async def converged(peers: list[Peer]) -> tuple[int, str]:
    """Wait until every peer reports the same digest at the same index; return it."""
    result: tuple[int, str] = (0, "")

    async def same() -> bool:
        nonlocal result
        digests = [await p.call({"op": "digest"}) for p in peers]
        indexes = {d["index"] for d in digests}
        if len(indexes) == 1 and len({d["digest"] for d in digests}) == 1:
            result = (digests[0]["index"], digests[0]["digest"])
            return True
        return False

    await until(same, 30, "equal digests at equal index")
    return result
