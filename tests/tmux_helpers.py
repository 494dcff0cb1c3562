"""Real terminals for the end-to-end UI tests and the UI benchmark: tmux, driven as a person.

A :class:`TmuxTerminal` is one tmux session on a private server (``tmux -L SOCKET``, never
the user's own, started with ``-f /dev/null`` so no personal tmux.conf applies): keys go in
with ``send-keys``, the screen comes out as text with ``capture-pane``. Panes stay after
their program exits (``remain-on-exit``) so its exit status can be read; tmux 3.3a does not
always reap a pane's process at once, so the status is read from /proc while the process
is a zombie. :meth:`TmuxTerminal.close` ends a program still running by its PID, and
:func:`kill_server` ends the private server and removes its socket. Nothing sleeps for a
fixed time: :meth:`TmuxTerminal.wait_for` polls the screen against a deadline.

The dex screen (130x40) is parsed by :func:`ladder_rows`, :func:`tape_rows` and
:func:`cluster_rows`: the depth ladder is the left panel, the trade tape the middle one,
the cluster panel the last one on the right.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

WIDTH, HEIGHT = 130, 40


def need_tmux() -> str:
    """The tmux binary; the calling test is skipped when there is none, unless
    ``DEX_REQUIRE_TMUX`` is set (CI sets it: there a missing tmux is a broken setup)."""
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("DEX_REQUIRE_TMUX"):
            pytest.fail("tmux is not installed, and DEX_REQUIRE_TMUX says it must be")
        pytest.skip("tmux is not installed: the terminal tests drive dex-tui inside tmux")
    return tmux


def private_socket(prefix: str = "dex-test") -> str:
    """A tmux socket name no one else uses (``tmux -L NAME``)."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


#: Not handed to tmux (and so to the programs in it): TMUX would aim the private server's
#: clients at an enclosing session; COLUMNS and LINES (which a test runner's process may
#: hold, set through putenv without showing in os.environ) would override the pane's real
#: size in every program that asks shutil.get_terminal_size(), Textual included.
HIDDEN = ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")


def tmux(socket: str, *args: str, check: bool = True) -> str:
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    done = subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args],
                          capture_output=True, text=True, timeout=10, env=env)  # fmt: skip
    if check and done.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def kill_server(socket: str) -> None:
    """End the private server (a no-op if it is gone) and remove its socket file."""
    tmux(socket, "kill-server", check=False)
    folder = os.environ.get("TMUX_TMPDIR") or "/tmp"
    with contextlib.suppress(OSError):  # tmux leaves it behind
        os.unlink(os.path.join(folder, f"tmux-{os.getuid()}", socket))


class TmuxTerminal:
    """One program in one tmux session of ``width`` x ``height`` cells."""

    def __init__(self, socket: str, name: str, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.socket = socket
        self.name = name
        self.width = width
        self.height = height
        self.pid = 0  # the pane's process: the program itself when the command execs it
        self.target = f"={name}:"  # exactly this session (not a prefix match), its window

    def start(self, command: str, env: dict[str, str] | None = None) -> int:
        """Run the shell ``command`` in a new session (end it with ``exec`` so the pane's
        process is the program); returns that process's PID."""
        extra = [f"{k}={v}" for k, v in (env or {}).items()]
        env_args = [arg for pair in extra for arg in ("-e", pair)]
        # One tmux invocation: the option is set before the program can have exited.
        tmux(self.socket, "new-session", "-d", "-s", self.name, "-x", str(self.width),
             "-y", str(self.height), *env_args, command,
             ";", "set-option", "-w", "-t", self.target, "remain-on-exit", "on")  # fmt: skip
        self.pid = int(self.display("#{pane_pid}"))
        return self.pid

    def display(self, fmt: str) -> str:
        return tmux(self.socket, "display-message", "-p", "-t", self.target, fmt).strip()

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key names)."""
        tmux(self.socket, "send-keys", "-t", self.target, "-l", text)

    def press(self, *keys: str) -> None:
        """Press keys by tmux name: ``Enter``, ``Escape``, ``BSpace``, ``q``..."""
        tmux(self.socket, "send-keys", "-t", self.target, *keys)

    def screen(self, first: int | None = None, last: int | None = None) -> str:
        """The visible screen as text, or only its rows ``first`` to ``last`` (0-based)."""
        rows = []
        if first is not None:
            rows += ["-S", str(first)]
        if last is not None:
            rows += ["-E", str(last)]
        return tmux(self.socket, "capture-pane", "-p", "-t", self.target, *rows)

    def wait_for(
        self, what: str | Callable[[str], bool], timeout: float = 10.0, poll: float = 0.02
    ) -> str:
        """Poll the screen until it contains ``what`` (or ``what(screen)`` is true); return
        that screen. AssertionError with the last screen after ``timeout`` seconds."""
        check = (lambda text: what in text) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: timed out after {timeout} s waiting for {what!r}; "
                    f"the screen was:\n{text}"
                )
            time.sleep(poll)

    def exit_status(self) -> int | None:
        """The program's exit status once it has ended, else None.

        Read from the kernel while the process is a zombie (until tmux reaps it, which it
        does not always do promptly, ``pane_dead_status`` is empty), else from tmux."""
        state, code = _proc_state(self.pid)
        if state == "Z":
            return code
        if state is not None:
            return None  # still running
        dead, _, status = self.display("#{pane_dead} #{pane_dead_status}").partition(" ")
        return int(status) if dead == "1" and status else None

    def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} (pid {self.pid}) still running after {timeout} s"
                )
            time.sleep(0.02)
        return status

    def running(self) -> bool:
        state, _ = _proc_state(self.pid)
        return self.pid > 0 and state not in (None, "Z")

    def close(self, grace: float = 5.0) -> None:
        """End the program by PID if it still runs (SIGTERM, then SIGKILL after ``grace``
        seconds), then the session. By PID, not by hanging up its terminal: a test's
        teardown must not rely on the program ending well (dex-tui does, since it arms an
        exit watchdog once its peer has left; see test_tui_tmux.py)."""
        if self.running():
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.running():
                os.kill(self.pid, signal.SIGKILL)
        tmux(self.socket, "kill-session", "-t", self.target, check=False)


def _proc_state(pid: int) -> tuple[str | None, int | None]:
    """``(state, exit status)`` of a process from /proc/PID/stat: state None when there is
    no such process; the exit status (field 52, as waitpid reports it) only for a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None, None
    state = fields[0]
    if state != "Z":
        return state, None
    raw = int(fields[-1])
    return state, (raw >> 8) & 0xFF if raw & 0x7F == 0 else 128 + (raw & 0x7F)


# ---------------------------------------------------------------------- the dex screen

LADDER_COLUMNS = slice(1, 39)  # inside the left panels' border (the ladder, the chart)
TAPE_COLUMNS = slice(41, 75)  # inside the middle panel's border
RIGHT_COLUMNS = slice(77, 129)  # inside the right column's panels
_LEVEL = re.compile(r"^([▶ ])\s*(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+)\s*$")
_TRADE = re.compile(r"^([● ]) (\d\d:\d\d:\d\d)\s+(\d+\.\d+)\s+(\d+\.\d+) ([↑↓ ])\s*$")


@dataclass(frozen=True)
class LevelRow:
    side: str  # "ask" or "bid"
    price: str
    size: str
    total: str
    count: int
    own: bool  # marked ▶: this terminal's trader has an order at this level


@dataclass(frozen=True)
class TradeRow:
    time: str  # HH:MM:SS, consensus time in the terminal's time zone
    price: str
    size: str
    arrow: str  # ↑ ↓ or a blank
    own: bool  # marked ●


def _panel(screen: str, title: str, columns: slice) -> list[str]:
    """The rows inside the panel whose top border carries ``title`` (first match)."""
    lines = screen.splitlines()
    tops = [i for i, line in enumerate(lines)
            if f"╭─ {title}" in line[columns.start - 1 : columns.stop + 1]]  # fmt: skip
    if not tops:
        return []
    rows = []
    for line in lines[tops[0] + 1 :]:
        if line[columns.start - 1 : columns.start] == "╰":
            break
        rows.append(line[columns])
    return rows


def ladder_rows(screen: str) -> tuple[list[LevelRow], str]:
    """The ladder's levels (asks top down, then bids top down) and its spread/mid row."""
    levels: list[LevelRow] = []
    mid = ""
    side = "ask"
    for row in _panel(screen, "BTC/USD", LADDER_COLUMNS)[1:]:  # [0]: the column header
        if "spread" in row or "no spread" in row:
            mid, side = row.strip(), "bid"
            continue
        if match := _LEVEL.match(row):
            mark, price, size, total, count = match.groups()
            levels.append(LevelRow(side, price, size, total, int(count), mark == "▶"))
    return levels, mid


def tape_rows(screen: str) -> list[TradeRow]:
    """The trade tape's rows, newest first."""
    trades = []
    for row in _panel(screen, "Trades", TAPE_COLUMNS)[1:]:
        if match := _TRADE.match(row):
            mark, stamp, price, size, arrow = match.groups()
            trades.append(TradeRow(stamp, price, size, arrow, mark == "●"))
    return trades


def cluster_rows(screen: str) -> list[str]:
    """The lines of the Cluster panel (right column), stripped."""
    return [row.strip() for row in _panel(screen, "Cluster", RIGHT_COLUMNS)]


def footer(screen: str) -> str:
    lines = screen.splitlines()
    return lines[-1] if lines else ""


def ladder_has_focus(screen: str) -> bool:
    """The footer lists the one-key bindings only while no input has focus."""
    return "Buy side" in footer(screen)
