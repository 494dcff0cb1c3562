"""A single headless peer as outside tests drive it (spec/cli.md, spec/rpc.md)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_helpers import Cluster, until

from net.storage import FILE


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dex_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=15,
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--api-port", "70000"], "--api-port"),
        (["--bind", "not-an-ip"], "--bind"),
        (["--bind", "0.0.0.0"], "--secret"),  # off loopback a real secret is required
        (["--peer", "nowhere"], "--peer"),
        (["--scenario", "/no/such/file"], "--scenario"),
        (["--frobnicate"], "unrecognized"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], problem: str) -> None:
    result = run_cli("--headless", "--no-discovery", *args)
    assert result.returncode == 2
    assert problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_data_dir_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("\\documentclass{article}")
    result = run_cli("--headless", "--no-discovery", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "not a dex peer" in result.stderr
    assert (tmp_path / "thesis.tex").read_text() == "\\documentclass{article}"


async def test_a_corrupt_log_is_refused_untouched(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        peer = await cluster.start("solo")
        await peer.stop()
        (peer.data_dir / FILE).write_bytes(b"garbage" * 1000)
        result = run_cli("--headless", "--no-discovery", "--data-dir", str(peer.data_dir))
        assert result.returncode == 2
        assert "not a usable dex consensus store" in result.stderr
        assert (peer.data_dir / FILE).read_bytes() == b"garbage" * 1000
    finally:
        await cluster.close()


async def test_a_lone_peer_founds_trades_leaves_and_recovers(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    try:
        peer = await cluster.start("solo")
        await until(lambda: _markets(peer), 20, "the founding markets")
        markets = await peer.call({"op": "markets"})
        assert {"symbol": "BTC/USD", "base": "BTC", "quote": "USD", "tick": "0.1",
                "lot": "0.001"} in markets  # fmt: skip
        sell = {"op": "submit", "market": "BTC/USD", "side": "sell", "price": "100.5",
                "qty": "0.25", "client_id": "s1"}  # fmt: skip
        first = await peer.call(sell)
        assert first["status"] == "resting"
        assert await peer.call(sell) == first  # idempotent by client_id
        buy = {"op": "submit", "market": "BTC/USD", "side": "buy", "price": "101", "qty": "0.1"}
        filled = await peer.call(buy)
        assert filled["status"] == "filled" and filled["avg_price"] == "100.5"
        before = await peer.call({"op": "digest"})

        started = time.monotonic()
        assert await peer.stop() == 0
        assert time.monotonic() - started < 5.0

        await peer.start()
        await until(lambda: _applied(peer, before["index"]), 20, "replay after restart")
        assert await peer.call({"op": "digest"}) == before
        book = await peer.call({"op": "book", "market": "BTC/USD"})
        assert book["asks"] == [["100.5", "0.15", 1]]
        again = await peer.call({**buy, "client_id": "after-restart"})
        assert again["status"] == "filled"
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await cluster.close()


async def _markets(peer) -> bool:
    return len(await peer.call({"op": "markets"})) == 2


async def _applied(peer, index: int) -> bool:
    return (await peer.call({"op": "digest"}))["index"] >= index
