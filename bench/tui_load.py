"""The terminal under load: keypress-to-screen latency and the UI process's CPU.

    python bench/tui_load.py [--rate 2000] [--seconds 20] [--clients 64] [--samples 30]

Budget: with 2,000 orders/s of cluster traffic, keypress-to-screen latency <= 100 ms and
the app's CPU < 50% of one core.

Starts two headless peers (``dex-tui --headless``, founding the cluster with
``bench/cluster.py``'s large grant, so that no order is refused for funds) and one
``dex-tui`` with its UI in a 130x40 tmux session on a private tmux server, joined to them
(loopback, no zeroconf). Then
two phases, measured the same way:

1. idle: no orders;
2. load: a driver process (this script with ``--drive``) sends ``--rate`` commands/s
   through the RPC of the two headless peers with ``--clients`` concurrent keep-alive
   connections: 70% limit orders of 0.001 to 0.010 BTC near a mid of 1000 (one in eight
   priced through the mid, so orders trade), 30% cancels of earlier orders by client_id
   (a cancel of an order that has filled meanwhile is committed all the same and answered
   ERR_NOT_FOUND). It prints the rate it achieved: commands answered after commit, per
   second.

In each phase: the UI process's CPU (utime + stime from /proc/PID/stat over the phase, as
% of one core; the pane's process is dex-tui itself, started with ``exec``; it is a full
peer, so it applies every order too: the headless peers' CPU is printed beside it, with
the driver's, tmux's, the probes' and the whole machine's), and ``--samples`` keypress-to-
screen latencies of three kinds, each from just before ``tmux send-keys`` until
``tmux capture-pane`` (polled in a tight loop) shows the change: ``[`` / ``]`` (the ladder
shows fewer levels and more again: its title changes), ``2`` / ``1`` (the price chart
shows 5-minute candles, then 1-minute ones again: its title changes) and typing in the
quick order line (a digit appears, BackSpace removes it). All include tmux's own send and
capture latency (a few ms): the idle phase is the baseline. The driver runs in its own
process so that generating load never delays this process's polling.

On one small machine the UI competes for the CPU with everything else: here the two
other peers and the driver, which stand for the rest of a cluster and its traffic and in a
real one run on other machines. By default they compete with the UI as equals; each runs
in a session (so a scheduler autogroup) of its own, as the UI in its tmux pane does.
``--others-nice 10`` runs them at a lower priority, as if the UI had its machine to
itself. How long the UI's event loop was runnable but waiting for a CPU
(/proc/PID/schedstat) is printed either way, and
``--ui-nice -10`` runs the UI itself at a higher priority.
"""

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[0] = str(ROOT / "tests")  # the harness; not bench/, whose engine.py shadows engine


def _bench_cluster() -> ModuleType:
    """bench/cluster.py, for its lean load-generating client."""
    spec = importlib.util.spec_from_file_location("bench_cluster", HERE / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_cluster = _bench_cluster()
LeanClient, framed = _cluster.LeanClient, _cluster.framed

from cluster_helpers import Cluster, Peer, until  # noqa: E402
from grenache_helpers import free_port  # noqa: E402
from tmux_helpers import TmuxTerminal, kill_server, ladder_has_focus, private_socket  # noqa: E402

from net.rpc.client import RpcClient  # noqa: E402

BTC = "BTC/USD"
TITLE_ROW = 1  # the ladder panel's top border carries "BTC/USD  10 levels"
QUICK_ROW = 38  # the quick order line, second to last row of 40
LADDER_WIDTH = 40  # columns of the left panels: the ladder, and the chart under it
KINDS = ("depth", "chart", "typing")  # the keypress probes, in the order they run


# ---------------------------------------------------------------------- the load driver


class Driver:
    """``rate`` commands/s for ``seconds`` over ``clients`` connections to ``peers``."""

    def __init__(self, peers: list[Peer], rate: int, seconds: float, clients: int) -> None:
        self.peers = peers
        self.rate = rate
        self.seconds = seconds
        self.clients = clients
        self.counts = {"submit": 0, "cancel": 0, "not_found": 0, "error": 0}
        self.placed: dict[str, list[str]] = {p.name: [] for p in peers}  # client_ids

    def command(self, n: int, peer: Peer, rng: random.Random) -> tuple[str, dict]:
        placed = self.placed[peer.name]
        if placed and rng.random() < 0.3:
            recent = placed[-2000:]
            client_id = recent[rng.randrange(len(recent))]
            return "cancel", {"op": "cancel", "client_id": client_id}
        side = rng.choice(("buy", "sell"))
        offset = rng.randint(-3, 20)  # ticks away from the mid, on the own side; < 0 crosses
        price = 10_000 - offset if side == "buy" else 10_000 + offset
        client_id = f"L{n}"
        placed.append(client_id)
        qty = rng.randint(1, 10)
        return "submit", {"op": "submit", "market": BTC, "side": side,
                          "price": f"{price / 10:.1f}", "qty": f"{qty / 1000:.3f}",
                          "client_id": client_id}  # fmt: skip

    async def run(self) -> dict:
        slots = itertools.count()
        start = time.monotonic()
        stop_at = start + self.seconds

        async def client(i: int) -> None:
            rng = random.Random(i)
            peer = self.peers[i % len(self.peers)]
            lean = LeanClient(peer)
            try:
                while True:
                    n = next(slots)
                    due = start + n / self.rate
                    if due >= stop_at or time.monotonic() >= stop_at:  # (behind: stop on time)
                        return
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                    kind, payload = self.command(n, peer, rng)
                    try:
                        await lean.call(framed(payload, n))
                        self.counts[kind] += 1
                    except RuntimeError as error:  # an error reply: the connection is fine
                        self.counts["not_found" if "ERR_NOT_FOUND" in str(error) else "error"] += 1
            finally:
                lean.close()

        await asyncio.gather(*(client(i) for i in range(self.clients)))
        elapsed = time.monotonic() - start
        committed = self.counts["submit"] + self.counts["cancel"] + self.counts["not_found"]
        return {**self.counts, "elapsed": elapsed, "committed_per_s": committed / elapsed}


async def drive(args: argparse.Namespace) -> None:
    """The ``--drive`` mode: load the peers at ``args.drive``, print the result as JSON."""
    peers = []
    for i, addr in enumerate(args.drive.split(",")):
        peer = Peer(f"p{i}", Path(), [], Path(), {})
        peer.host, port = addr.rsplit(":", 1)
        peer.port = int(port)
        peers.append(peer)
    driver = Driver(peers, args.rate, args.seconds, args.clients)
    print(json.dumps(await driver.run()), flush=True)


# ---------------------------------------------------------------------- measuring the UI


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def press_until(
    tty: TmuxTerminal, keys: list[str], row: int, shows: Callable[[str], bool]
) -> float:
    """Milliseconds from sending ``keys`` until screen ``row`` ``shows`` the change."""
    start = time.perf_counter()
    tty.press(*keys)
    deadline = time.monotonic() + 10
    while not shows(tty.screen(row, row)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no change on row {row} after {keys}:\n{tty.screen()}")
    return (time.perf_counter() - start) * 1000


def levels(title_row: str) -> int | None:
    """N from the ladder's title "BTC/USD  N levels"."""
    found = re.search(r"(\d+) levels", title_row)
    return int(found.group(1)) if found else None


def chart_row(tty: TmuxTerminal) -> int:
    """The screen row of the chart's title ("BTC/USD  1m candles"), under the ladder."""
    for row, line in enumerate(tty.screen().splitlines()):
        if "candles" in line[:LADDER_WIDTH]:
            return row
    raise AssertionError(f"no chart on the screen:\n{tty.screen()}")


def probe(tty: TmuxTerminal, samples: int, seconds: float) -> dict[str, list[float]]:
    """``samples`` latencies of each kind, spread over about ``seconds``."""
    rng = random.Random(7)
    gap = max(0.0, seconds / (len(KINDS) * samples) - 0.02)
    depth: list[float] = []
    chart: list[float] = []
    typing: list[float] = []
    shown = levels(tty.screen(TITLE_ROW, TITLE_ROW))
    for i in range(samples):  # [ and ] alternately: the title's "N levels" changes
        key = "[" if i % 2 == 0 else "]"
        depth.append(press_until(tty, [key], TITLE_ROW, lambda row, was=shown: levels(row) != was))
        shown = levels(tty.screen(TITLE_ROW, TITLE_ROW))
        time.sleep(gap * rng.uniform(0.5, 1.5))  # off the app's 15 Hz repaint rhythm
    if len(depth) % 2:
        press_until(tty, ["]"], TITLE_ROW, lambda row: levels(row) != shown)
    row = chart_row(tty)
    for i in range(samples):  # 2 and 1 alternately: the chart's title names its interval
        key, interval = ("2", "5m") if i % 2 == 0 else ("1", "1m")
        chart.append(press_until(tty, [key], row, lambda r, n=interval: f"{n} candles" in r))
        time.sleep(gap * rng.uniform(0.5, 1.5))
    if samples % 2:
        press_until(tty, ["1"], row, lambda r: "1m candles" in r)
    tty.press(":")
    tty.wait_for(lambda s: not ladder_has_focus(s), 10)
    for i in range(samples):  # a digit appears in the quick line, then BackSpace removes it
        if i % 2 == 0:
            typing.append(press_until(tty, ["7"], QUICK_ROW, lambda row: row.startswith("7")))
        else:
            typing.append(press_until(tty, ["BSpace"], QUICK_ROW, lambda r: r.startswith(":")))
        time.sleep(gap * rng.uniform(0.5, 1.5))
    if samples % 2:
        press_until(tty, ["BSpace"], QUICK_ROW, lambda row: row.startswith(":"))
    tty.press("Escape")  # alone: the next key waits until the ladder has the focus again
    tty.wait_for(ladder_has_focus, 10)
    return {"depth": depth, "chart": chart, "typing": typing}


def renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` at ``nice``, and its scheduling autogroup too where the
    kernel has them (a tmux pane is a session of its own, so an autogroup of its own: a
    thread's nice value alone only counts within its group)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.setpriority(os.PRIO_PROCESS, int(task), nice)
    if os.getsid(pid) != pid:  # its autogroup is its session's: renicing it would renice
        raise RuntimeError(f"pid {pid} must lead its own session")  # this script too
    with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as group:
        group.write(str(nice))


def run_queue_wait(pid: int) -> float:
    """Seconds the process's main thread (the UI's event loop) has spent runnable but
    waiting for a CPU, from /proc/PID/schedstat."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[1]) / 1e9


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def _own_cpu() -> float:
    """CPU seconds of this process and its ended children (the tmux clients it ran)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def phase(tty: TmuxTerminal, pids: dict[str, int], samples: int, seconds: float) -> dict:
    """Probe for about ``seconds`` while measuring the CPU of ``pids`` (name: pid), and of
    the whole machine, over the same window."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before, total_before = machine_busy()
    mine_before = _own_cpu()
    waited_before = run_queue_wait(pids["ui"])
    start = time.monotonic()
    latencies = probe(tty, samples, seconds)
    if (left := seconds - (time.monotonic() - start)) > 0:
        time.sleep(left)  # the CPU window is the whole phase, probing done or not
    wall = time.monotonic() - start
    cpu = {name: 100 * (cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()}
    cpu["probe"] = 100 * (_own_cpu() - mine_before) / wall
    waited = 100 * (run_queue_wait(pids["ui"]) - waited_before) / wall
    busy, total = machine_busy()
    machine = 100 * (busy - busy_before) / max(1, total - total_before)
    return {"cpu": cpu, "machine": machine, "waited": waited, "wall": wall, **latencies}


def stats(ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


# ---------------------------------------------------------------------- the run


async def voters(client: RpcClient, count: int) -> bool:
    status = await client.call({"op": "status"})
    return len(status["voters"]) == count  # type: ignore[index]


async def bench(args: argparse.Namespace) -> int:
    if shutil.which("tmux") is None:
        print("tui_load: tmux is not installed: the UI runs in tmux", file=sys.stderr)
        return 2
    socket = private_socket("dex-tui-bench")
    with tempfile.TemporaryDirectory(prefix="dex-tui-bench-") as root:
        # founded with bench/cluster.py's large grant, so that the load stays orders that
        # match and rest rather than turning into cheap insufficient_funds rejections
        cluster = Cluster(Path(root), common=["--no-discovery", "--grant", _cluster.GRANT])
        tty = TmuxTerminal(socket, "ui")
        client: RpcClient | None = None
        driver: subprocess.Popen | None = None
        try:
            peers = await cluster.grow(2)
            port = free_port()
            dex_tui = Path(sys.executable).parent / "dex-tui"
            command = shlex.join([str(dex_tui), "--name", "ui", "--data-dir", f"{root}/ui",
                                  "--no-discovery", "--api-port", str(port),
                                  "--cluster", cluster.name, "--peer", peers[0].addr])  # fmt: skip
            tty.start(f"cd {shlex.quote(str(ROOT))} && exec {command}", {"COLORTERM": "truecolor"})
            client = RpcClient("127.0.0.1", port, timeout=5.0)
            await until(lambda: voters(client, 3), 60, "the UI peer to become a voter")
            tty.wait_for(lambda s: levels(s) is not None and ladder_has_focus(s), 20)
            comm = Path(f"/proc/{tty.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            assert "dex-tui" in comm, f"pane process {tty.pid} is not dex-tui: {comm}"

            pids = {"ui": tty.pid, **{p.name: p.proc.pid for p in peers if p.proc}}
            pids["tmux"] = int(tty.display("#{pid}"))  # the tmux server
            if args.ui_nice:
                renice(tty.pid, args.ui_nice)
            for peer in peers:  # the rest of the cluster: other machines, in a real one
                if args.others_nice and peer.proc:
                    renice(peer.proc.pid, args.others_nice)
            idle = phase(tty, pids, args.samples, args.idle_seconds)

            addrs = ",".join(p.addr for p in peers)
            driver = subprocess.Popen(
                [sys.executable, __file__, "--drive", addrs, "--rate", str(args.rate),
                 "--seconds", str(args.seconds + 2), "--clients", str(args.clients)],
                stdout=subprocess.PIPE, text=True, start_new_session=True,
            )  # fmt: skip
            if args.others_nice:  # its own session, so its own autogroup: renice both
                renice(driver.pid, args.others_nice)
            ui_index = (await client.call({"op": "status"}))["applied_index"]  # type: ignore[index]
            # log entries, not commands: each signed entry carries a batch of a peer's
            # requests, a dozen or more under this load; the driver's start is slow on a
            # busy machine (nice 10)
            await until(lambda: _moved(client, ui_index + 20), 30, "the load to start")
            loaded = phase(tty, {**pids, "driver": driver.pid}, args.samples, args.seconds)
            out, _ = driver.communicate(timeout=60)
            load = json.loads(out.strip().splitlines()[-1])
            report(args, idle, loaded, load)
            tty.press("q")
            status = tty.wait_exit(5)
            print(f"tui_load: the UI quit with exit status {status}")
        finally:
            if driver is not None and driver.poll() is None:
                driver.kill()
                driver.wait()
            if client is not None:
                await client.close()
            tty.close()
            kill_server(socket)
            await cluster.close()
    return 0


async def _moved(client: RpcClient, index: int) -> bool:
    status = await client.call({"op": "status"})
    return status["applied_index"] >= index  # type: ignore[index]


def report(args: argparse.Namespace, idle: dict, loaded: dict, load: dict) -> None:
    def lat(phase: dict, kind: str) -> str:
        return " / ".join(f"{ms:.0f}" for ms in stats(phase[kind]))

    def cpu(phase: dict, name: str) -> str:
        return f"{phase['cpu'][name]:.1f}" if name in phase["cpu"] else "-"

    committed = load["committed_per_s"]
    if args.ui_nice:
        print(f"tui_load: the UI process ran at nice {args.ui_nice}")
    if args.others_nice:
        print(f"tui_load: the headless peers and the load driver ran at nice "
              f"{args.others_nice} (they stand for other machines)")  # fmt: skip
    print(f"tui_load: {args.rate:,} commands/s offered for {args.seconds:.0f} s, "
          f"{committed:,.0f} committed/s ({load['submit']:,} orders, {load['cancel']:,} "
          f"cancels, {load['not_found']:,} cancels of filled orders, {load['error']:,} "
          f"errors; {args.clients} clients)")  # fmt: skip
    print()
    rows = [
        ("UI process CPU, % of one core", cpu(idle, "ui"), cpu(loaded, "ui")),
        *((f"headless peer {n} CPU, % of one core", cpu(idle, n), cpu(loaded, n))
          for n in idle["cpu"] if n.startswith("p") and n != "probe"),
        ("load driver CPU, % of one core", "-", cpu(loaded, "driver")),
        ("tmux server CPU, % of one core", cpu(idle, "tmux"), cpu(loaded, "tmux")),
        ("probes (this script + tmux clients), % of one core", cpu(idle, "probe"),
         cpu(loaded, "probe")),
        (f"machine busy, % of all {os.cpu_count()} cores", f"{idle['machine']:.0f}",
         f"{loaded['machine']:.0f}"),
        ("UI event loop runnable, waiting for a CPU, % of time", f"{idle['waited']:.1f}",
         f"{loaded['waited']:.1f}"),
        ("[ / ] -> ladder title, ms (median / p95 / max)", lat(idle, "depth"),
         lat(loaded, "depth")),
        ("2 / 1 -> chart title, ms (median / p95 / max)", lat(idle, "chart"),
         lat(loaded, "chart")),
        ("typing -> quick line, ms (median / p95 / max)", lat(idle, "typing"),
         lat(loaded, "typing")),
    ]  # fmt: skip
    print(f"| {'measure':<52} | {'idle':>15} | {'under load':>15} |")
    print(f"|{'-' * 54}|{'-' * 16}:|{'-' * 16}:|")
    for name, quiet, busy in rows:
        print(f"| {name:<52} | {quiet:>15} | {busy:>15} |")
    print()
    median, p95, top = stats([ms for kind in KINDS for ms in loaded[kind]])
    idle_median = stats([ms for kind in KINDS for ms in idle[kind]])[0]
    print(f"tui_load: {args.rate} orders/s offered, {committed:.0f} committed/s; "
          f"UI CPU {loaded['cpu']['ui']:.0f}% of a core (idle: {idle['cpu']['ui']:.0f}%); "
          f"keypress->screen median {median:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms "
          f"(idle median {idle_median:.0f} ms)")  # fmt: skip
    ok_latency = p95 <= 100
    ok_cpu = loaded["cpu"]["ui"] < 50
    print(f"tui_load: budget: keypress->screen <= 100 ms (p95) {'met' if ok_latency else 'NOT met'}"
          f"; UI CPU < 50% of a core {'met' if ok_cpu else 'NOT met'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000, help="commands/s offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load phase")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="the idle phase")
    parser.add_argument("--clients", type=int, default=64, help="concurrent RPC connections")
    parser.add_argument("--samples", type=int, default=30, help="latencies of each kind")
    parser.add_argument(
        "--others-nice",
        type=int,
        default=10,
        help="nice value of the two headless peers and the load driver: they "
        "stand for the rest of a cluster, which runs on other machines; "
        "0 makes them compete with the UI for this machine's cores",
    )
    parser.add_argument("--ui-nice", type=int, default=0,
                        help="run the UI process at this nice value (e.g. -10: tells CPU "
                             "starvation from the app's own work)")  # fmt: skip
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # internal: the load process
    args = parser.parse_args()
    if args.drive:
        asyncio.run(drive(args))
        return 0
    return asyncio.run(bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
