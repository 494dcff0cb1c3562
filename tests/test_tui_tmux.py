"""Three dex-tui terminals in tmux, used as a person would: keys in, screen text out.

Each terminal runs the real ``dex-tui`` (peer and Textual app in one process) in its own
tmux session on a private tmux server, on loopback, under a cluster name of the test's own.
In the first test the terminals join through ``--peer``; orders are typed into the quick
order line of two of them, and the third, where nobody typed, must show the same depth
ladder and trade tape (with the same consensus times), read off its screen; the digests
agree through the RPC, and ``q``
quits each with exit status 0 within 5 seconds. In the second they are started as a person
starts them, seconds apart with nothing but a name, and find each other by zeroconf.
"""

import asyncio
import contextlib
import shlex
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cluster_helpers import cluster_name, until
from grenache_helpers import free_port
from tmux_helpers import (
    LevelRow,
    TmuxTerminal,
    TradeRow,
    cluster_rows,
    kill_server,
    ladder_has_focus,
    ladder_rows,
    need_tmux,
    private_socket,
    tape_rows,
)

from dex_tui.cli import EXIT_GRACE
from net.node import STOP_WITHIN
from net.rpc.client import RpcClient

ROOT = Path(__file__).resolve().parent.parent
DEX_TUI = Path(sys.executable).parent / "dex-tui"


class Terminal:
    """A dex-tui in a tmux session, with an RPC client on its API port."""

    def __init__(
        self, socket: str, name: str, data: Path, cluster: str, seed: int | None = None,
        discovery: bool = False,
    ) -> None:  # fmt: skip
        self.name = name
        self.data = data
        self.port = free_port()
        self.tty = TmuxTerminal(socket, name)
        self.rpc = RpcClient("127.0.0.1", self.port, timeout=5.0)
        args = ["--name", name, "--data-dir", str(data), "--cluster", cluster,
                "--api-port", str(self.port)]  # fmt: skip
        if not discovery:
            args.append("--no-discovery")
        if seed is not None:
            args += ["--peer", f"127.0.0.1:{seed}"]
        self.command = f"cd {shlex.quote(str(ROOT))} && exec {shlex.quote(str(DEX_TUI))} " + (
            shlex.join(args)
        )

    def start(self) -> None:
        self.tty.start(self.command, {"COLORTERM": "truecolor"})

    def order(self, line: str, shows: str) -> None:
        """Type ``line`` in the quick order line, send it, and wait until the screen
        ``shows`` its effect and the ladder has the focus again."""
        tty = self.tty
        tty.wait_for(ladder_has_focus, 10)
        tty.press(":")
        tty.wait_for(lambda s: not ladder_has_focus(s), 5)  # the quick line has the focus
        tty.type(line)
        tty.wait_for(lambda s: line in s.splitlines()[-2], 5)
        tty.press("Enter")
        tty.wait_for(lambda s: shows in s and ladder_has_focus(s), 10)

    def log(self) -> str:
        path = self.data / "dex.log"
        text = path.read_text(errors="replace")[-3000:] if path.exists() else "(no dex.log)"
        try:
            screen, status = self.tty.screen(), self.tty.exit_status()
        except RuntimeError as gone:  # the session is gone
            screen, status = str(gone), None
        return f"--- {self.name} (exit status {status})\n{text}\n{screen}"


async def voters(term: Terminal, count: int, terms: list[Terminal]) -> bool:
    for other in terms:  # fail at once, not at the deadline, when a dex-tui died
        if not other.tty.running():
            raise AssertionError(f"{other.name} exited with status {other.tty.exit_status()}")
    status = await term.rpc.call({"op": "status"})
    return len(status["voters"]) == count  # type: ignore[index]


def view(term: Terminal, levels: list[LevelRow], trades: list[TradeRow]) -> tuple:
    """The terminal's ladder and tape once they show ``levels`` and ``trades`` (own marks
    and tick arrows aside, which differ per trader); the parsed view is returned."""

    def parsed(screen: str) -> tuple:
        ladder, mid = ladder_rows(screen)
        tape = tape_rows(screen)
        return ([(r.side, r.price, r.size, r.total, r.count) for r in ladder], mid,
                [(t.price, t.size, t.arrow) for t in tape], ladder, tape,
                [t.time for t in tape])  # fmt: skip

    want = [(r.side, r.price, r.size, r.total, r.count) for r in levels]
    want_tape = [(t.price, t.size, t.arrow) for t in trades]
    screen = term.tty.wait_for(lambda s: parsed(s)[0] == want and parsed(s)[2] == want_tape, 10)
    return parsed(screen)


@contextlib.asynccontextmanager
async def terminals(socket: str, terms: list[Terminal]) -> AsyncIterator[None]:
    """Close every terminal and the tmux server afterwards; on a failure, show each one's
    log and screen first."""
    try:
        yield
    except BaseException:
        for term in terms:
            print(term.log())
        raise
    finally:
        for term in terms:
            await term.rpc.close()
            term.tty.close()
        kill_server(socket)


async def quit_all(terms: list[Terminal]) -> None:
    """Press ``q`` in each terminal, in this order: each must exit 0 within 5 seconds."""
    for term in terms:
        await term.rpc.close()
        term.tty.press("q")
        assert term.tty.wait_exit(5) == 0, term.log()


async def test_three_terminals_show_the_same_market(tmp_path: Path) -> None:
    need_tmux()
    socket = private_socket("dex-tui-test")
    terms: list[Terminal] = []
    async with terminals(socket, terms):
        cluster = cluster_name()
        a = Terminal(socket, "A", tmp_path / "A", cluster)
        terms.append(a)
        a.start()
        await until(lambda: voters(a, 1, terms), 20, "A to found a cluster")
        b = Terminal(socket, "B", tmp_path / "B", cluster, a.port)
        c = Terminal(socket, "C", tmp_path / "C", cluster, a.port)
        terms += [b, c]
        b.start()
        c.start()
        for term in terms:
            await until(lambda t=term: voters(t, 3, terms), 30, f"{term.name} to see 3 voters")

        a.order("b 1 @ 100", "▶     100.0      1.000")
        a.order("b 0.5 @ 99.9", "▶      99.9      0.500")
        b.order("s 0.3 @ 100 ioc", "100.0      0.300")
        b.order("s 2 @ 100.5", "▶     100.5      2.000")
        a.order("b 0.25 @ 100.5 ioc", "100.5      0.250")

        levels = [
            LevelRow("ask", "100.5", "1.750", "1.750", 1, False),
            LevelRow("bid", "100.0", "0.700", "0.700", 1, False),
            LevelRow("bid", "99.9", "0.500", "1.200", 1, False),
        ]
        trades = [TradeRow("", "100.5", "0.250", "↑", False),
                  TradeRow("", "100.0", "0.300", " ", False)]  # fmt: skip
        views = {t.name: view(t, levels, trades) for t in terms}
        # C, where nobody typed, shows what A and B show, row for row, and the same time for
        # each trade: consensus time, not when each terminal saw it
        assert views["C"][:3] == views["A"][:3] == views["B"][:3]
        assert views["C"][5] == views["A"][5] == views["B"][5]
        assert "spread 0.5" in views["C"][1] and "last 100.5" in views["C"][1]
        # Own marks: A's bids, B's ask, nothing of C's; own trades: A and B took part in both.
        assert [r.own for r in views["A"][3]] == [False, True, True]
        assert [r.own for r in views["B"][3]] == [True, False, False]
        assert not any(r.own for r in views["C"][3])
        assert [t.own for t in views["A"][4]] == [True, True]
        assert [t.own for t in views["B"][4]] == [True, True]
        assert not any(t.own for t in views["C"][4])

        digests: list[dict] = []

        async def same_digest() -> bool:
            digests[:] = [await t.rpc.call({"op": "digest"}) for t in terms]  # type: ignore[misc]
            return len({(d["index"], d["digest"]) for d in digests}) == 1

        await until(same_digest, 10, "equal digests at an equal index")
        await quit_all([c, b, a])  # the founder last: the others leave a cluster with quorum


async def test_three_terminals_started_seconds_apart_become_one_exchange(
    tmp_path: Path,
) -> None:
    """As a person starts them: one terminal, then another three seconds later, then a
    third, each with just a name (and the test's cluster name): they find each other, list
    each other, and an order typed in the first trades with one typed in the third, on every
    screen, the second's included."""
    need_tmux()
    socket = private_socket("dex-tui-test")
    cluster = cluster_name()
    terms = [Terminal(socket, name, tmp_path / name, cluster, discovery=True)
             for name in ("first", "second", "third")]  # fmt: skip
    async with terminals(socket, terms):
        started = []
        for term in terms:
            if started:
                await asyncio.sleep(max(0.0, started[-1] + 3.0 - time.monotonic()))  # a person
            term.start()
            started.append(time.monotonic())
        for term in terms:
            await until(lambda t=term: voters(t, 3, terms), 30, f"{term.name} to see 3 voters")
        for term in terms:  # each lists the two others in its Cluster panel
            others = [t.name for t in terms if t is not term]
            term.tty.wait_for(
                lambda s, o=others: all(any(r.startswith(n) for r in cluster_rows(s)) for n in o),
                10,
            )
        first, _, third = terms
        first.order("b 1 @ 100", "▶     100.0      1.000")
        third.order("s 0.4 @ 100 ioc", "100.0      0.400")
        trades = [TradeRow("", "100.0", "0.400", " ", False)]
        levels = [LevelRow("bid", "100.0", "0.600", "0.600", 1, False)]
        views = {t.name: view(t, levels, trades) for t in terms}
        assert views["second"][:3] == views["first"][:3] == views["third"][:3]
        assert views["second"][5] == views["first"][5] == views["third"][5]  # its time
        assert not any(t.own for t in views["second"][4])  # nobody typed in the second
        await quit_all(terms[::-1])


@pytest.mark.parametrize("after", [0.0, 0.5])
async def test_a_terminal_closed_while_its_peer_leaves_still_ends_the_process(
    tmp_path: Path, after: float
) -> None:
    """``q`` starts a clean leave (a few seconds with another peer to hand over to); the
    terminal window is closed meanwhile, at once or half a second later (the screen is
    gone by then, the leave is not). The process must still end, not linger with Textual's
    input thread spinning on a terminal that is gone."""
    need_tmux()
    socket = private_socket("dex-tui-test")
    cluster = cluster_name()
    terms = [Terminal(socket, name, tmp_path / name, cluster, discovery=True)
             for name in ("stays", "goes")]  # fmt: skip
    async with terminals(socket, terms):
        for term in terms:
            term.start()
        for term in terms:
            await until(lambda t=term: voters(t, 2, terms), 30, f"{term.name} to see 2 voters")
        for term in terms:
            await term.rpc.close()
            term.tty.press("q")
        await asyncio.sleep(after)  # a person closing the windows
        kill_server(socket)  # every window closed, mid-leave

        async def ended() -> bool:
            return not any(t.tty.running() for t in terms)

        # Within the bound of a stop (a leave, then each part closing), plus the exit grace.
        await until(ended, STOP_WITHIN + EXIT_GRACE + 3, "both processes to end")
