"""The ``dex-tui`` command (spec/cli.md): options, then the peer, headless or with the UI.

Errors in the options or the data dir are one line on stderr and exit code 2. A headless
peer prints ``dex: ready name=NAME api=HOST:PORT`` once its API answers and it is in a
cluster with its markets applied, logs to stderr, and on SIGTERM or SIGINT leaves the
cluster cleanly and exits 0 within 5 seconds. If the peer's own loop dies, it exits 1
(crash-only: the traceback is in the log).

With the UI, the peer and the Textual app share one event loop: the peer is started first
(so a bad data dir is still a one-line error before the screen is taken over), the app runs
until the user quits (or SIGTERM), then the peer leaves the cluster. Logs would scribble
over the screen, so they go to ``dex.log`` in the data dir instead of stderr.
"""

import argparse
import asyncio
import gc
import logging
import logging.handlers
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

from engine.accounts import DEFAULT_GRANT
from net.config import GC_THRESHOLDS, ConfigError, PeerConfig, Timing
from net.datadir import DataDirError
from net.feed.limits import FeedLimits
from net.node import STOP_WITHIN, Node
from net.recovery import RecoveryError
from net.storage import StorageError
from net.traders import KeyFileError, NameTaken

#: What keeps a peer from starting: a one-line message, exit code 2.
START_ERRORS = (DataDirError, StorageError, ConfigError, RecoveryError, KeyFileError)
EXIT_FAILED = 1  # the peer's loop died

LOG_FORMAT = "%(asctime)s %(name)s %(message)s"
EXIT_GRACE = 1.5  # seconds the screen gets to close after a signal, once the peer has left


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage)
        self.exit(2, f"dex-tui: error: {message}\n")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, PeerConfig]:
    p = _Parser(prog="dex-tui", description="A peer-to-peer exchange in the terminal.")
    p.add_argument("--version", action="version", version=f"dex-tui {version('dex')}")
    p.add_argument("--headless", action="store_true", help="run the peer without the interface")
    p.add_argument("--name", help="peer and trader name (default: generated, kept in the data dir)")
    p.add_argument("--data-dir", type=Path, help="log, snapshots and identity")
    p.add_argument("--api-port", type=int, default=0, help="RPC port (0: any free port)")
    p.add_argument("--bind", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--peer", action="append", default=[], metavar="HOST:PORT",
                   help="a peer to join through (repeatable)")  # fmt: skip
    p.add_argument("--no-discovery", action="store_true", help="do not use zeroconf")
    p.add_argument("--interface", default="127.0.0.1", help="zeroconf interface, or 'all'")
    p.add_argument("--secret", default="", help="cluster secret (also DEX_SECRET)")
    p.add_argument("--grape", help="also announce on / discover through a Grenache grape")
    p.add_argument("--scenario", type=Path, help="run a scenario file once started")
    p.add_argument("--market", help="market shown first")
    p.add_argument("--cluster", help="join (or found) only a cluster of this name; kept in the "
                   "data dir (default: dex)")  # fmt: skip
    p.add_argument("--grant", default=DEFAULT_GRANT, metavar="ASSET=AMOUNT,...",
                   help="founding only: what every newly registered trader receives "
                   f"(default {DEFAULT_GRANT})")  # fmt: skip
    p.add_argument(
        "--maker-fee-bps",
        type=int,
        default=0,
        metavar="BPS",
        help="founding only: the maker fee, in basis points of what is received",
    )
    p.add_argument(
        "--taker-fee-bps",
        type=int,
        default=0,
        metavar="BPS",
        help="founding only: the taker fee, in basis points of what is received",
    )
    p.add_argument("--api-token", default="",
                   help="off loopback, RPC writes need it (also DEX_API_TOKEN)")  # fmt: skip
    p.add_argument("--force-new-cluster", action="store_true",
                   help="recovery: keep this peer's state and log and become the only voter "
                   "of its cluster (only when the others are gone for good)")  # fmt: skip
    args = p.parse_args(argv)
    if args.name is not None and not (0 < len(args.name) <= 64 and args.name.isprintable()):
        p.error("--name: expected 1 to 64 printable characters")
    config = PeerConfig(
        name=args.name,
        data_dir=args.data_dir,
        bind=args.bind,
        api_port=args.api_port,
        peers=args.peer,
        discovery=not args.no_discovery,
        interface=args.interface,
        secret=args.secret,
        grape=args.grape,
        scenario=args.scenario,
        market=args.market,
        cluster=args.cluster,
        force_new_cluster=args.force_new_cluster,
        grant=args.grant,
        maker_fee_bps=args.maker_fee_bps,
        taker_fee_bps=args.taker_fee_bps,
        api_token=args.api_token,
    )
    try:
        config.timing = Timing.from_env(os.environ)
        FeedLimits.from_env(os.environ)  # (checked up front: the node reads them when made)
        config.check()
    except ConfigError as exc:
        p.error(str(exc))
    return args, config


async def run_headless(config: PeerConfig) -> int:
    node = Node(config)
    try:
        await node.start()
    except START_ERRORS as exc:
        print(f"dex-tui: error: {exc}", file=sys.stderr)
        return 2
    assert node.failed is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before "ready": a stop may follow at once
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.ensure_future(stop.wait())
    ready = asyncio.ensure_future(node.ready.wait())
    await asyncio.wait([ready, stopped, node.failed], return_when=asyncio.FIRST_COMPLETED)
    if ready.done() and not node.failed.done():
        gc.freeze()  # what start-up built is long-lived: keep the collector off it
        print(f"dex: ready name={node.name} api={node.api_addr}", flush=True)
        await asyncio.wait([stopped, node.failed], return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if refused := _refusal(node):
        print(refused, file=sys.stderr)
        await node.stop()
        return 2
    if node.failed.done():
        await node.abort()
        return EXIT_FAILED
    logging.getLogger("dex").info("leaving the cluster")
    await node.stop()
    return 0


async def run_tui(config: PeerConfig) -> int:
    from .app import DexApp  # Textual loads only when there is a screen to draw

    buffered = logging.handlers.MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
    logging.getLogger().addHandler(buffered)  # until the data dir, and so dex.log, is known
    node = Node(config)
    try:
        await node.start()
    except START_ERRORS as exc:
        logging.getLogger().removeHandler(buffered)
        print(f"dex-tui: error: {exc}", file=sys.stderr)
        return 2
    assert node.data is not None
    to_file = logging.FileHandler(node.data.path / "dex.log", encoding="utf-8")
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    buffered.setTarget(to_file)
    buffered.flush()
    logging.getLogger().removeHandler(buffered)
    logging.getLogger().addHandler(to_file)
    app = DexApp(
        node,
        market=config.market,
        scenario=config.scenario,
        recent=node.data.path / "recent-scenarios",
    )

    async def leave_then_exit() -> None:
        await node.stop()
        _exit_soon(0)
        app.exit()

    def arm_deadline() -> bool:
        """Once a stop begins: end the process after the longest a stop may take, whatever
        the screen does. False if a stop had already begun."""
        nonlocal stopping
        if stopping:
            return False
        stopping = True
        _exit_soon(0, STOP_WITHIN + EXIT_GRACE)
        return True

    def on_signal(signum: int, frame: object) -> None:
        # A Python-level handler rather than the loop's: it runs even while the loop is stuck
        # (with its terminal gone, Textual's teardown can block writing to it). The leave
        # runs first, while the loop is free.
        if arm_deadline():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(leave_then_exit()))

    stopping = False
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    assert node.failed is not None
    node.failed.add_done_callback(lambda _: app.exit(return_code=EXIT_FAILED))
    gc.freeze()
    try:
        await app.run_async()
    finally:
        if node.loop_died:
            await node.abort()
        else:
            arm_deadline()
            logging.getLogger("dex").info("leaving the cluster")
            await node.stop()
    code = 0
    if refused := _refusal(node):
        print(refused, file=sys.stderr)
        code = 2
    elif node.failed.done():
        print(f"dex-tui: error: the peer stopped after a fault: {node.failed.result()!r}; "
              f"see {node.data.path / 'dex.log'}", file=sys.stderr)  # fmt: skip
        code = EXIT_FAILED
    # The peer is closed. If the terminal went away meanwhile, Textual's input thread can
    # spin on it for ever and the interpreter would wait for it at exit: end regardless.
    _exit_soon(code)
    return code


def _refusal(node: Node) -> str:
    """The one-line error of a peer whose name is another key's ("" if it is not)."""
    failed = node.failed
    if failed is not None and failed.done() and isinstance(failed.result(), NameTaken):
        return f"dex-tui: error: {failed.result()}"
    return ""


def _exit_soon(code: int, after: float = EXIT_GRACE) -> None:
    """End the process with ``code`` in ``after`` seconds unless it has ended by itself."""

    def end() -> None:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    watchdog = threading.Timer(after, end)
    watchdog.daemon = True  # a normal exit does not wait for it
    watchdog.start()


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    if args.headless:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
        return run(run_headless(config))
    logging.getLogger().setLevel(logging.INFO)
    return run(run_tui(config))


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop where it is installed (cheaper I/O than asyncio's own loop)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


if __name__ == "__main__":
    raise SystemExit(main())
