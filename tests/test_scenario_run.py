"""Running scenarios against a peer: the commands sent and their client ids, retries that never
double-submit, refusals and skips counted, stop(), progress, and every shipped scenario run to
completion. The peer is a fake wrapping a real engine.Exchange that applies each command at
once; sleeps are injected and never wait."""

import asyncio
import importlib.util
from pathlib import Path

import pytest

import engine
from dex_tui.runner import ATTEMPTS, ScenarioRun
from dex_tui.scenario import ScenarioError, load_scenario, parse_scenario
from net.rpc.errors import ERR_BUSY, ERR_INVALID, ERR_NO_QUORUM, ERR_TIMEOUT, RpcError

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.txt"))
BTC, ETH = "BTC/USD", "ETH/USD"
OWNER = "alice"


class FakePeer:
    """A peer whose consensus is instant: each command is applied at the next log index."""

    owner = OWNER

    def __init__(self) -> None:
        self._exchange = engine.Exchange()
        self.index = 0
        self.commands: list[engine.Command] = []  # every command applied, in order
        self.trades = 0
        for command in engine.FOUNDING_MARKETS:
            self.apply(command)
        self.commands.clear()

    @property
    def exchange(self) -> engine.Exchange:
        return self._exchange

    def apply(self, command: engine.Command) -> list[engine.Event]:
        self.index += 1
        self.commands.append(command)
        events = self._exchange.apply(command, self.index)
        self.trades += sum(isinstance(event, engine.Trade) for event in events)
        return events

    async def execute(self, command: engine.Command) -> tuple[int, list[engine.Event]]:
        return self.index, self.apply(command)


class FlakyPeer(FakePeer):
    """Fails the first ``failures`` writes (of type ``kind``) with ``code``; ``committed``
    applies them first (a write that timed out but made it into the log)."""

    def __init__(
        self, failures: int, code: str = ERR_TIMEOUT, committed: bool = False, kind: type = object
    ) -> None:
        super().__init__()
        self.failures = failures
        self.code = code
        self.committed = committed
        self.kind = kind
        self.attempts: list[engine.Command] = []  # every execute call, failed ones too

    async def execute(self, command: engine.Command) -> tuple[int, list[engine.Event]]:
        self.attempts.append(command)
        if self.failures > 0 and isinstance(command, self.kind):
            self.failures -= 1
            if self.committed:
                self.apply(command)
            raise RpcError(self.code, "not this time")
        return await super().execute(command)


class Sleeps:
    """An injected sleep that records the durations and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def scenario(text: str, peer: FakePeer, default: str = BTC):
    return parse_scenario(text, peer.exchange.markets, default, "t.txt")


async def run(text: str, peer: FakePeer | None = None, **kwargs) -> tuple[ScenarioRun, FakePeer]:
    peer = FakePeer() if peer is None else peer
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("run_id", "r1")
    runner = ScenarioRun(scenario(text, peer), peer, **kwargs)
    await runner.run()
    return runner, peer


# ---------------------------------------------------------------------------- commands


async def test_every_step_becomes_its_command():
    sleeps = Sleeps()
    text = (
        "# a comment\n"
        "o1: buy 1 @ 30000 post\n"
        "market ETH/USD\n"
        "s 2 @ 2000.5 ioc\n"
        "buy 1 market max 2010\n"
        "market BTC/USD\n"
        "amend o1 qty 0.5 price 29999\n"
        "sleep 250ms\n"
        "cancel o1\n"
        "cancel all\n"
    )
    runner, peer = await run(text, sleep=sleeps)
    assert peer.commands == [
        engine.Submit(OWNER, BTC, "buy", "limit", 300000, 1000, "gtc", True, "none", "r1-2"),
        engine.Submit(OWNER, ETH, "sell", "limit", 200050, 200, "ioc", False, "none", "r1-4"),
        engine.Submit(OWNER, ETH, "buy", "market", 201000, 100, "ioc", False, "none", "r1-5"),
        engine.Amend(OWNER, 1, 500, 299990),
        engine.Cancel(OWNER, client_id="r1-2"),
        engine.CancelAll(OWNER, BTC),
    ]
    assert sleeps.calls == [0.25]
    assert (runner.total, runner.sent, runner.rejected, runner.skipped) == (7, 7, 0, 0)
    assert runner.done and not runner.stopped and runner.error is None
    assert peer.exchange.open_orders(OWNER) == []


async def test_stops_and_gtd_orders_are_sent_and_a_stop_amended_and_cancelled_while_waiting():
    text = (
        "o1: sell 1 stop 29900\n"
        "amend o1 trigger 29800\n"
        "buy 0.5 @ 29000 gtd 30s\n"
        "sell 1 @ 31000 stop 30500 gtd 12:30\n"
        "cancel o1\n"
    )
    now = 1_764_072_000.0  # 12:00:00 UTC: expiries count from when each line is sent
    runner, peer = await run(text, clock=lambda: now)
    stop, amend, gtd, stop_limit, cancel = peer.commands
    assert (stop.type, stop.trigger, stop.price, stop.tif) == ("stop", 299000, None, "ioc")
    assert amend == engine.Amend(OWNER, 1, None, None, 298000)
    assert (gtd.tif, gtd.expire_at) == ("gtd", 1_764_072_030_000)
    assert (stop_limit.type, stop_limit.price, stop_limit.trigger) == ("stop_limit", 310000, 305000)
    assert cancel == engine.Cancel(OWNER, client_id="r1-1")
    assert (runner.sent, runner.rejected, runner.skipped) == (5, 0, 0)  # the stop was open


def test_client_ids_are_per_run_and_line():
    peer = FakePeer()
    steps = scenario("buy 1 @ 1", peer)
    assert ScenarioRun(steps, peer, run_id="abc").client_id(12) == "abc-12"
    first, second = ScenarioRun(steps, peer), ScenarioRun(steps, peer)
    assert first.client_id(3) == first.client_id(3)
    assert first.run_id != second.run_id
    assert len(first.run_id) == 8 and int(first.run_id, 16) >= 0


@pytest.mark.parametrize("run_id", ["", "x" * 41, "bad\nid"])
def test_run_id_is_checked(run_id):
    peer = FakePeer()
    with pytest.raises(ValueError, match="run_id"):
        ScenarioRun(scenario("", peer), peer, run_id=run_id)


async def test_a_run_runs_once():
    runner, _ = await run("buy 1 @ 1")
    with pytest.raises(RuntimeError):
        await runner.run()


async def test_refusals_are_counted_not_errors():
    runner, peer = await run(
        "sell 1 @ 30000\n"
        "buy 1 @ 30001 post\n"  # would cross: refused
        "buy 5 @ 30000 fok\n"  # only 1 there: refused
        "buy 1 @ 29000\n"
    )
    assert (runner.sent, runner.rejected, runner.error) == (4, 2, None)
    assert runner.notes == [
        "line 2: refused: post_only: the order would take liquidity",
        "line 3: refused: tif: fill-or-kill order cannot be filled in full",
    ]
    assert len(peer.exchange.open_orders(OWNER)) == 2


async def test_amend_and_cancel_of_an_order_no_longer_open_are_skipped():
    runner, peer = await run(
        "o1: buy 1 @ 30000\n"
        "o2: buy 1 @ 29000\n"
        "sell 1 @ 30000\n"  # fills o1
        "amend o1 qty 0.5\n"
        "cancel o2\n"
        "cancel o2\n"  # already cancelled
        "amend o2 price 29001\n"
        "cancel o1\n"
    )
    assert [type(c).__name__ for c in peer.commands] == ["Submit", "Submit", "Submit", "Cancel"]
    assert (runner.sent, runner.skipped, runner.rejected, runner.error) == (8, 4, 0, None)
    assert runner.notes == [
        "line 4: amend skipped: o1 is not open (filled)",
        "line 6: cancel skipped: o2 is not open (cancelled)",
        "line 7: amend skipped: o2 is not open (cancelled)",
        "line 8: cancel skipped: o1 is not open (filled)",
    ]


async def test_amend_reaches_a_partly_filled_order():
    _, peer = await run("o1: buy 2 @ 30000\nsell 0.5 @ 30000\namend o1 qty 1.5\n")
    (order,) = peer.exchange.open_orders(OWNER)
    assert (order.client_id, order.qty, order.remaining_qty) == ("r1-1", 1500, 1000)


# ---------------------------------------------------------------------------- retries


@pytest.mark.parametrize("code", [ERR_TIMEOUT, ERR_BUSY, ERR_NO_QUORUM])
@pytest.mark.parametrize("committed", [False, True])
async def test_retries_use_the_same_client_id_and_never_double_submit(code, committed):
    peer = FlakyPeer(failures=2, code=code, committed=committed)
    sleeps = Sleeps()
    runner, _ = await run("buy 1 @ 30000\nsell 0.5 @ 31000\n", peer, sleep=sleeps)
    assert [c.client_id for c in peer.attempts if isinstance(c, engine.Submit)] == [
        "r1-1",
        "r1-1",
        "r1-1",
        "r1-2",
    ]
    assert len(peer.attempts) == 4
    assert sleeps.calls == [0.2, 0.4]  # backoff doubles
    bids, asks = peer.exchange.depth(BTC)
    assert bids == [(300000, 1000, 1)] and asks == [(310000, 500, 1)]  # one order each
    assert len(peer.exchange.open_orders(OWNER)) == 2
    assert (runner.sent, runner.rejected, runner.error) == (2, 0, None)
    assert runner.notes == [f"line 1: {code}, retrying"] * 2


async def test_a_retried_cancel_that_had_committed_is_only_a_refusal():
    peer = FlakyPeer(failures=1, committed=True, kind=engine.Cancel)
    runner, _ = await run("o1: buy 1 @ 1\ncancel o1\n", peer)
    assert peer.commands == [peer.attempts[0], peer.attempts[1], peer.attempts[2]]
    assert (runner.sent, runner.rejected, runner.error) == (2, 1, None)
    assert runner.notes[-1] == "line 2: refused: client_id: no open order with client id r1-1"
    assert peer.exchange.open_orders(OWNER) == []


async def test_gives_up_after_the_last_attempt_naming_the_line():
    peer = FlakyPeer(failures=100, code=ERR_NO_QUORUM)
    sleeps = Sleeps()
    progress: list[tuple[int, bool]] = []
    runner = ScenarioRun(scenario("sleep 1s\nbuy 1 @ 1\nbuy 1 @ 2\n", peer), peer, "r1", sleeps)
    await runner.run(lambda r: progress.append((r.sent, r.done)))
    assert len(peer.attempts) == ATTEMPTS
    assert runner.error == (
        f"line 2: ERR_NO_QUORUM: not this time (gave up after {ATTEMPTS} attempts)"
    )
    assert runner.done and not runner.stopped and runner.sent == 1
    assert sleeps.calls == [1.0, 0.2, 0.4, 0.8, 1.6]
    assert progress == [(1, False), (1, True)]


async def test_other_rpc_errors_end_the_run_at_once():
    peer = FlakyPeer(failures=1, code=ERR_INVALID)
    runner, _ = await run("buy 1 @ 1\nbuy 1 @ 2\n", peer)
    assert len(peer.attempts) == 1
    assert runner.error == "line 1: ERR_INVALID: not this time"
    assert runner.sent == 0 and peer.commands == []


# ---------------------------------------------------------------------------- progress, stop


async def test_progress_after_every_step_and_at_the_end():
    peer = FakePeer()
    runner = ScenarioRun(scenario("buy 1 @ 1\nsleep 1s\ncancel all\n", peer), peer, "r1", Sleeps())
    seen: list[tuple[int, int, bool]] = []
    await runner.run(lambda r: seen.append((r.sent, r.total, r.done)))
    assert seen == [(1, 3, False), (2, 3, False), (3, 3, False), (3, 3, True)]


async def test_stop_before_the_next_step():
    peer = FakePeer()
    text = "".join(f"buy 1 @ {price}\n" for price in range(1, 11))
    runner = ScenarioRun(scenario(text, peer), peer, "r1", Sleeps())

    def progress(r: ScenarioRun) -> None:
        if r.sent == 3:
            r.stop()

    await runner.run(progress)
    assert (runner.sent, runner.total, runner.stopped, runner.done) == (3, 10, True, True)
    assert len(peer.commands) == 3


async def test_stop_lets_the_write_in_flight_complete():
    entered, release = asyncio.Event(), asyncio.Event()

    class SlowPeer(FakePeer):
        async def execute(self, command):
            entered.set()
            await release.wait()
            return await super().execute(command)

    peer = SlowPeer()
    runner = ScenarioRun(scenario("buy 1 @ 1\nbuy 1 @ 2\n", peer), peer, "r1", Sleeps())
    task = asyncio.create_task(runner.run())
    await entered.wait()
    runner.stop()
    release.set()
    await task
    assert (runner.sent, runner.stopped, runner.error) == (1, True, None)
    assert len(peer.commands) == 1


async def test_stop_ends_a_sleep_at_once():
    asleep = asyncio.Event()

    async def forever(seconds: float) -> None:
        asleep.set()
        await asyncio.Event().wait()

    peer = FakePeer()
    runner = ScenarioRun(scenario("sleep 1s\nbuy 1 @ 1\n", peer), peer, "r1", forever)
    task = asyncio.create_task(runner.run())
    await asleep.wait()
    runner.stop()
    await task
    assert (runner.sent, runner.stopped, runner.done) == (1, True, True)
    assert peer.commands == []


async def test_stop_while_retrying():
    peer = FlakyPeer(failures=100, code=ERR_BUSY)
    asleep = asyncio.Event()

    async def forever(seconds: float) -> None:
        asleep.set()
        await asyncio.Event().wait()

    runner = ScenarioRun(scenario("buy 1 @ 1\n", peer), peer, "r1", forever)
    task = asyncio.create_task(runner.run())
    await asleep.wait()
    runner.stop()
    await task
    assert (runner.sent, runner.stopped, runner.error) == (0, True, None)
    assert runner.notes[-1] == "line 1: stopped while retrying; it may not have been applied"


async def test_an_error_on_the_last_line_sends_nothing(tmp_path: Path):
    peer = FakePeer()
    path = tmp_path / "s.txt"
    path.write_text("buy 1 @ 30000\nsell 1 @ 30001\nsell 1 @ 30001.05\n")
    with pytest.raises(ScenarioError) as caught:
        ScenarioRun(load_scenario(path, peer.exchange.markets, BTC), peer)
    assert (caught.value.line, caught.value.column) == (3, 10)
    assert peer.commands == []


# ---------------------------------------------------------------------------- shipped files


def test_the_shipped_scenarios_exist():
    names = {path.name for path in SCENARIOS}
    assert {"crossing_book.txt", "partial_fill_walk.txt", "market_sweep.txt",
            "market_maker.txt", "stops_and_expiry.txt"} <= names  # fmt: skip


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
async def test_shipped_scenario_runs_to_completion(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[1].startswith("# "), "starts by saying what it shows"
    peer = FakePeer()
    loaded = load_scenario(path, peer.exchange.markets, BTC)
    runner = ScenarioRun(loaded, peer, sleep=Sleeps())
    await runner.run()
    assert runner.error is None and not runner.stopped
    assert runner.sent == runner.total == len(loaded.steps) > 0
    assert peer.trades > 0, "every example trades"
    assert peer.exchange.open_orders(OWNER) == [], "every example cleans up after itself"


@pytest.mark.parametrize(
    ("name", "trades", "rejected", "skipped"),
    [
        ("crossing_book.txt", 6, 0, 0),
        ("partial_fill_walk.txt", 10, 1, 1),
        ("market_sweep.txt", 14, 0, 0),
        ("stops_and_expiry.txt", 4, 0, 0),  # two trades, each setting a stop off: two more
    ],
)
async def test_shipped_scenarios_do_what_they_say(name, trades, rejected, skipped):
    peer = FakePeer()
    loaded = load_scenario(ROOT / "scenarios" / name, peer.exchange.markets, BTC)
    runner = ScenarioRun(loaded, peer, sleep=Sleeps())
    await runner.run()
    assert (peer.trades, runner.rejected, runner.skipped) == (trades, rejected, skipped)


def test_market_maker_is_the_generator_output():
    spec = importlib.util.spec_from_file_location("make_mm", ROOT / "scripts/make_market_maker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ROOT / "scenarios" / "market_maker.txt").read_text(encoding="utf-8")
    assert text == module.generate(), "run scripts/make_market_maker.py to refresh the file"
    assert text.count("\n") >= 300
    for word in ("amend", "cancel q", "sleep 20ms", "market ETH/USD", "market", "ioc"):
        assert word in text
    assert module.generate(seed=8) != text
