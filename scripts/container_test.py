"""Deployment test: three dex peers, one per container, checked from this machine.

Run through ``scripts/container-test`` (which installs podman and friends first). Steps:
make a base image (``DEX_BASE`` if given, else Debian from debootstrap imported with
``podman import``: no image registry is needed), build the peer and grape images from
``scripts/container/Containerfile``, start ``compose.yaml`` with two Grenache grapes
(``compose.grapes.yaml``) and the cluster secret from a file (``compose.secret.yaml``), then
check from the host, over the published API ports:

- the three peers are one cluster of three voters, and a grape names all three as dex_rpc;
- an order entered on one peer is crossed by an order entered on another, and every peer
  reports the same digest at the same index;
- one container stopped (SIGTERM: a clean leave), the other two still trade;
- started again, it rejoins and agrees.

Everything it made (containers, network, volumes, images, temp files) is removed at the end,
pass or fail. The last line printed says ``ok`` or ``FAILED`` and why.
"""

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from net.grenache import Grenache
from net.rpc.client import RpcClient
from net.rpc.errors import RpcError

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "scripts" / "container"
MIRROR = "http://deb.debian.org/debian"
PEERS = ("peer1", "peer2", "peer3")
COMPOSE = Path(sys.executable).parent / "podman-compose"  # scripts/container-test installs it
COMPOSE_FILES = ("compose.yaml", "compose.grapes.yaml", "compose.secret.yaml")
FORMED_WITHIN = 90.0  # seconds for three fresh containers to become one cluster
AGREE_WITHIN = 30.0  # seconds for a trade, a digest or a rejoin to show on every peer


class Failed(Exception):
    """A check that did not hold; its message is the last line printed."""


def log(message: str) -> None:
    print(f"container-test: {message}", flush=True)


def run(*command: str, env: dict[str, str] | None = None, quiet: bool = False) -> str:
    """Run a command; its output, or Failed naming it and the end of what it printed."""
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise Failed(f"{' '.join(command[:3])} ... exited {done.returncode}: {' | '.join(tail)}")
    if not quiet and done.stdout.strip():
        print(done.stdout.strip()[-2000:], flush=True)
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def poll(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Retry ``check`` until it holds; Failed naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except RpcError as error:
            last = f" (last answer: {error})"
        await asyncio.sleep(0.5)
    raise Failed(f"{what}: not within {within:.0f} s{last}")


class Deployment:
    """One run's base image, peer image and compose project, all named by a random id."""

    def __init__(self, work: Path) -> None:
        run_id = secrets.token_hex(4)
        self.work = work
        self.project = f"dexct{run_id}"
        self.base = os.environ.get("DEX_BASE") or f"localhost/dex-base-{run_id}:latest"
        self.made_base = "DEX_BASE" not in os.environ
        self.image = f"localhost/dex-test-{run_id}:latest"
        self.grape_image = f"localhost/dex-grape-test-{run_id}:latest"
        self.ports = {name: free_port() for name in PEERS}
        self.grape_port = free_port()
        secret_file = work / "secret"
        secret_file.write_text(secrets.token_urlsafe(24))
        secret_file.chmod(0o600)
        self.token = secrets.token_urlsafe(24)  # the peers listen beyond loopback: writes need it
        self.env = os.environ | {
            "DEX_API_TOKEN": self.token,
            "CONTAINERS_CONF": str(HERE / "containers.conf"),
            "DEX_IMAGE": self.image,
            "DEX_GRAPE_IMAGE": self.grape_image,
            "DEX_GRAPE_PORT": str(self.grape_port),
            "DEX_CLUSTER": f"ct-{run_id}",
            "DEX_SECRET_FILE": str(secret_file),
            **{f"DEX_PORT_{i}": str(self.ports[name]) for i, name in enumerate(PEERS, 1)},
        }
        self.env.pop("DEX_SECRET", None)  # the secret comes from the file only
        self.clients = {name: RpcClient("127.0.0.1", port) for name, port in self.ports.items()}
        self.grape = Grenache(f"http://127.0.0.1:{self.grape_port}")

    # --- images ----------------------------------------------------------------------------

    def make_base(self) -> None:
        if not self.made_base:
            return
        started = time.monotonic()
        tree = self.work / "rootfs"
        run("debootstrap", "--variant=minbase", "bookworm", str(tree), MIRROR, quiet=True)
        with subprocess.Popen(["tar", "-C", str(tree), "-c", "."], stdout=subprocess.PIPE) as tar:
            run_in = subprocess.run(["podman", "import", "-", self.base], stdin=tar.stdout,
                                    env=self.env, capture_output=True, text=True)  # fmt: skip
        if tar.returncode != 0 or run_in.returncode != 0:
            raise Failed(f"podman import of the debootstrap tree failed: {run_in.stderr.strip()}")
        shutil.rmtree(tree, ignore_errors=True)
        log(f"base image {self.base} from debootstrap in {time.monotonic() - started:.0f} s")

    def build(self) -> None:
        started = time.monotonic()
        # This machine's certificate authorities, for HTTPS through an intercepting proxy.
        bundle = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
        ca = ["--secret", f"id=ca,src={bundle}"] if Path(bundle).is_file() else []
        for target, image in (("peer", self.image), ("grape", self.grape_image)):
            # --layers=false: no intermediate images are left behind to clean up.
            run("podman", "build", "--layers=false", "--file", str(HERE / "Containerfile"),
                "--target", target, "--build-arg", f"BASE={self.base}", *ca, "--tag", image,
                str(ROOT), env=self.env, quiet=True)  # fmt: skip
        log(f"peer and grape images built in {time.monotonic() - started:.0f} s")

    # --- the compose project ---------------------------------------------------------------

    def compose_command(self, *args: str) -> list[str]:
        files = [arg for name in COMPOSE_FILES for arg in ("-f", str(HERE / name))]
        return [str(COMPOSE), "-p", self.project, *files, *args]

    def compose(self, *args: str) -> str:
        return run(*self.compose_command(*args), env=self.env, quiet=True)

    def container(self, name: str) -> str:
        return f"{self.project}_{name}_1"

    async def status(self, name: str) -> dict:
        status = await self.clients[name].call({"op": "status"}, timeout=3)
        assert isinstance(status, dict)
        return status

    async def one_cluster(self, names: tuple[str, ...], voters: int) -> bool:
        seen = [await self.status(name) for name in names]
        return (
            all(s["state"] == "trading" and len(s["voters"]) == voters for s in seen)
            and len({s["cluster_id"] for s in seen}) == 1
        )

    async def agree(self, names: tuple[str, ...]) -> bool:
        """Every peer in ``names`` has applied the leader's commit index and reports the same
        digest at the same exchange index (log entries that only change membership do not
        reach the exchange, so that index may be lower)."""
        top = max([(await self.status(name))["commit_index"] for name in names])
        seen = set()
        for name in names:
            await self.clients[name].call({"op": "sync", "index": top, "timeout_ms": 2000})
            digest = await self.clients[name].call({"op": "digest"})
            assert isinstance(digest, dict)
            seen.add((digest["index"], digest["digest"]))
        return len(seen) == 1

    async def cross(self, maker: str, taker: str, price: str) -> None:
        """A sell resting on ``maker``, bought by an order entered on ``taker``: one trade."""
        order = {"market": "BTC/USD", "type": "limit", "price": price, "qty": "0.01",
                 "token": self.token}  # fmt: skip
        await self.clients[maker].call({"op": "submit", "side": "sell", **order})
        bought = await self.clients[taker].call({"op": "submit", "side": "buy", **order})
        assert isinstance(bought, dict)
        if bought["status"] != "filled":
            raise Failed(f"a buy on {taker} against a sell on {maker}: {bought['status']}")

    async def refuses_a_write_without_the_token(self, name: str) -> None:
        order = {"op": "submit", "market": "BTC/USD", "side": "buy", "price": "1", "qty": "1"}
        try:
            await self.clients[name].call(order)
        except RpcError as error:
            if error.code == "ERR_FORBIDDEN":
                log(f"{name} refused a write without the API token")
                return
            raise
        raise Failed(f"{name} took a write without the API token (it listens beyond loopback)")

    async def check(self) -> None:
        await poll(lambda: self.one_cluster(PEERS, 3), FORMED_WITHIN, "one cluster of three")
        log("one cluster of three voters")
        await poll(self.on_the_grape, AGREE_WITHIN, "the grape naming the three peers")
        log("the grape names the three peers as dex_rpc; each answers through it")
        await self.refuses_a_write_without_the_token("peer1")
        await self.cross("peer1", "peer2", "100.0")
        await poll(lambda: self.agree(PEERS), AGREE_WITHIN, "equal digests on three peers")
        log("an order on peer1 crossed from peer2; equal digests")
        node_id = (await self.status("peer3"))["node_id"]
        self.compose("stop", "peer3", "grape3")  # a grape lives in its peer's namespace
        code = run("podman", "inspect", "--format", "{{.State.ExitCode}}",
                   self.container("peer3"), env=self.env, quiet=True).strip()  # fmt: skip
        if code != "0":
            raise Failed(f"peer3 stopped with exit code {code}, not 0 (a clean leave)")
        alive = ("peer1", "peer2")
        await poll(lambda: self.one_cluster(alive, 2), AGREE_WITHIN, "two voters after a stop")
        await self.cross("peer2", "peer1", "101.0")
        await poll(lambda: self.agree(alive), AGREE_WITHIN, "equal digests on two peers")
        log("peer3 stopped (exit 0, a clean leave); peer1 and peer2 still trade")
        self.compose("start", "peer3", "grape3")
        await poll(lambda: self.one_cluster(PEERS, 3), AGREE_WITHIN * 2, "peer3 rejoining")
        await poll(lambda: self.agree(PEERS), AGREE_WITHIN, "equal digests after the rejoin")
        if (await self.status("peer3"))["node_id"] != node_id:
            raise Failed("peer3 came back as another node: its data volume was not kept")
        log("peer3 started again from its volume: rejoined, equal digests")

    async def on_the_grape(self) -> bool:
        """The grape names every peer as dex_rpc, and each answers a call made through it
        (as Grenache's own client calls: look up, then POST to each address)."""
        if len(await self.grape.lookup("dex_rpc")) != len(PEERS):
            return False
        answers = await self.grape.map("dex_rpc", {"op": "status"}, timeout=3)
        return sorted(a["name"] for a in answers if isinstance(a, dict)) == list(PEERS)

    def logs(self) -> None:
        for name in PEERS:
            done = subprocess.run(["podman", "logs", "--tail", "15", self.container(name)],
                                  env=self.env, capture_output=True, text=True)  # fmt: skip
            print(f"--- {name}\n{(done.stdout + done.stderr).strip()}", flush=True)

    async def teardown(self) -> None:
        for client in self.clients.values():
            await client.close()
        await self.grape.close()
        quiet = {"env": self.env, "capture_output": True}
        subprocess.run(self.compose_command("down", "-v"), **quiet)
        made = [self.image, self.grape_image] + ([self.base] if self.made_base else [])
        subprocess.run(["podman", "rmi", "--force", *made], **quiet)


async def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dex-container-test-"))
    deployment = Deployment(work)
    try:
        deployment.make_base()
        deployment.build()
        deployment.compose("up", "-d")
        await deployment.check()
    except (Failed, RpcError) as error:
        deployment.logs()
        log(f"FAILED: {error}")
        return 1
    finally:
        await deployment.teardown()
        shutil.rmtree(work, ignore_errors=True)
    log(f"ok: 3 peer containers with their grapes, one cluster, traded, stopped one, rejoined "
        f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
