"""Stock Grenache pieces in real processes on loopback, for the Grenache interop tests.

The stock packages live in ``examples/node_modules`` (``npm ci`` in ``examples/``, which CI
runs). :func:`node_tools` finds them: missing ones fail the test in CI (``CI`` set) and skip it
elsewhere. :class:`Grapes` starts two grapes that bootstrap off each other, always bound to
127.0.0.1 with a loopback ``--bn`` (a grape given no bootstrap list asks public DHT routers)
and ``--dpa`` (the CLI's default is "never expire"), and ends them by PID. :func:`run_js`
runs one of the example scripts and returns its output. Nothing sleeps for a fixed time.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster_helpers import Cluster, until

from net.grenache import Grenache

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PEER_EXPIRY_MS = 20_000  # --dpa: how long an announcement lives on a grape


@dataclass(frozen=True, slots=True)
class NodeTools:
    node: str
    grape: Path


def node_tools() -> NodeTools:
    """``node`` and the stock ``grape`` CLI; fail (CI) or skip (elsewhere) without them."""
    node = shutil.which("node")
    grape = EXAMPLES / "node_modules" / ".bin" / "grape"
    problem = None
    if node is None:
        problem = "node is not on PATH"
    elif not grape.exists():
        problem = f"{grape} is missing: run (cd examples && npm ci --no-audit --no-fund)"
    if problem is None:
        assert node is not None
        return NodeTools(node, grape)
    if os.environ.get("CI"):
        pytest.fail(f"Grenache tests need the stock packages: {problem}")
    pytest.skip(f"Grenache tests need the stock packages: {problem}")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free right now for ``kind`` (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def grapes_and_peers(
    root: Path, expiry_ms: int = PEER_EXPIRY_MS
) -> AsyncIterator[tuple["Grapes", Cluster]]:
    """Two grapes (not started yet) and a harness for peers without zeroconf; on failure
    every log is printed, and in any case every process is ended by PID."""
    grapes = Grapes(root, expiry_ms=expiry_ms)
    cluster = Cluster(root, common=["--no-discovery"])
    try:
        yield grapes, cluster
    except BaseException:
        print(cluster.logs(), grapes.logs())
        raise
    finally:
        await cluster.close()
        await grapes.close()


class Grapes:
    """Two grapes bootstrapping off each other; :meth:`close` ends them by PID."""

    def __init__(self, root: Path, expiry_ms: int = PEER_EXPIRY_MS) -> None:
        self.tools = node_tools()
        self.root = root
        self.expiry_ms = expiry_ms
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []

    async def start(self) -> list[str]:
        """Start both and wait until each answers a lookup; their HTTP API URLs."""
        dht = [free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)]
        for i, port in enumerate(dht):
            api = free_port()
            other = dht[1 - i]
            cmd = [str(self.tools.grape), "-b", "127.0.0.1", "--dp", str(port),
                   "--aph", str(api), "--bn", f"127.0.0.1:{other}",
                   "--dpa", str(self.expiry_ms)]  # fmt: skip
            with open(self.root / f"grape{i}.log", "ab") as log:
                self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log))
            self.urls.append(f"http://127.0.0.1:{api}")
        for url in self.urls:
            async with Grenache(url, timeout=1.0) as grape:
                await until(lambda g=grape: _answers(g), 10, f"the grape at {url}")
        return self.urls

    async def close(self) -> None:
        await stop_all(self.procs)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted(self.root.glob("grape*.log"))
        )


async def _answers(grape: Grenache) -> bool:
    await grape.lookup("dex_test_probe")
    return True


async def stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process still running (by PID), SIGKILL it after 5 s."""
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.to_thread(proc.wait, 5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 5)


async def visible(grape_url: str, name: str, count: int, timeout: float = 15.0) -> list[str]:
    """Wait until ``name`` has ``count`` addresses on the grape; return them."""
    found: list[str] = []

    async def enough() -> bool:
        nonlocal found
        found = await grape.lookup(name)
        return len(found) == count

    async with Grenache(grape_url, timeout=1.0) as grape:
        await until(enough, timeout, f"{count} peers announced as {name} on {grape_url}")
    return found


@dataclass(frozen=True, slots=True)
class JsResult:
    code: int
    out: str
    err: str

    def json(self) -> object:
        assert self.code == 0, f"exit {self.code}: {self.err}"
        return json.loads(self.out)


async def run_js(script: str, *args: str, timeout: float = 20.0) -> JsResult:
    """Run ``examples/<script>`` with node; its exit code and output (killed after timeout)."""
    tools = node_tools()
    proc = await asyncio.create_subprocess_exec(
        tools.node, str(EXAMPLES / script), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        command = " ".join([script, *args])
        raise AssertionError(f"node {command}: no exit within {timeout} s") from None
    assert proc.returncode is not None
    return JsResult(proc.returncode, out.decode().strip(), err.decode().strip())


def start_js(script: str, *args: str, log: Path) -> subprocess.Popen:
    """Start a long-running example script (a server); its stdout is a pipe."""
    tools = node_tools()
    with open(log, "ab") as err:
        return subprocess.Popen(
            [tools.node, str(EXAMPLES / script), *args], stdout=subprocess.PIPE, stderr=err,
            text=True,
        )  # fmt: skip
