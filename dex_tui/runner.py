"""Runs a parsed scenario against a peer, one step at a time, visibly and stoppably.

Every write goes through the peer's consensus (``peer.execute``), so a step is done when it
is committed and applied. Each order's client id is ``RUN-LINE``: a write that timed out may
still have committed, so it is retried with the same id and the engine answers a repeat
with the first submit's outcome instead of placing a second order. Labels resolve to those
client ids; an amend needs the order id, read from the peer's own copy of the exchange, and
an amend or cancel of an order that is no longer open (filled, cancelled) is skipped and
noted rather than sent to be refused. What the exchange refuses (a post-only order that
would cross, a fill-or-kill that cannot fill) is counted, not an error: scenarios are for
watching the market do things, and a refusal is one of those things. The run ends early
only on :meth:`ScenarioRun.stop` or a write the cluster cannot take. A stop waiting for its
trigger is open (it can be amended and cancelled); a ``gtd 30s`` order expires 30 s after
its line is sent (the injected ``clock``), not after the file was loaded.
"""

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import engine
from engine.orders import PARTIALLY_FILLED, RESTING, UNTRIGGERED
from net.peer import Peer
from net.rpc.errors import ERR_BUSY, ERR_NO_QUORUM, ERR_TIMEOUT, RpcError

from .scenario import AmendStep, CancelAllStep, CancelStep, OrderStep, Scenario, SleepStep, Step

#: Failures after which the same write may still succeed (nothing was refused).
RETRYABLE = frozenset({ERR_TIMEOUT, ERR_BUSY, ERR_NO_QUORUM})
ATTEMPTS = 5  # tries of one write, the first included
BACKOFF = 0.2  # seconds before the first retry, doubled before each next one
MAX_RUN_ID = 40  # characters: client ids ("RUN-LINE") stay within the engine's 64
MAX_NOTES = 1000  # notes kept per run; later ones are counted, not kept


class ScenarioRun:
    """One run of a scenario: its progress counters, and ``run()`` / ``stop()``.

    ``sent`` counts finished steps (sent, slept or skipped), so ``sent == total`` once a run
    completes; ``rejected`` counts steps the exchange refused, ``skipped`` amends and
    cancels of orders no longer open; ``notes`` says why, one short line per event.
    """

    def __init__(
        self,
        scenario: Scenario,
        peer: Peer,
        run_id: str | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        run_id = secrets.token_hex(4) if run_id is None else run_id
        if not (0 < len(run_id) <= MAX_RUN_ID and run_id.isprintable()):
            raise ValueError(f"run_id: expected 1 to {MAX_RUN_ID} printable characters")
        self.scenario = scenario
        self.peer = peer
        self.run_id = run_id
        self._sleep = sleep
        self._clock = clock
        self.total = len(scenario.steps)
        self.sent = 0
        self.rejected = 0
        self.skipped = 0
        self.done = False
        self.stopped = False
        self.error: str | None = None
        self.notes: list[str] = []
        self._labels = {  # label -> the line of its order, whose client id it stands for
            s.label: s.line
            for s in scenario.steps
            if isinstance(s, OrderStep) and s.label is not None
        }
        self._stopping = asyncio.Event()
        self._started = False

    def client_id(self, line: int) -> str:
        return f"{self.run_id}-{line}"

    def stop(self) -> None:
        """Stop before the next step (a write in flight completes; a sleep ends at once)."""
        self._stopping.set()

    async def run(self, on_progress: Callable[["ScenarioRun"], None] | None = None) -> None:
        """Run every step in order; ``on_progress`` after each one and once at the end."""
        if self._started:
            raise RuntimeError("a ScenarioRun runs once; make a new one to run again")
        self._started = True
        try:
            for step in self.scenario.steps:
                if self._stopping.is_set():
                    self.stopped = True
                    break
                if not await self._step(step):
                    break
                self.sent += 1
                if on_progress is not None:
                    on_progress(self)
        finally:
            self.done = True
        if on_progress is not None:
            on_progress(self)

    # ------------------------------------------------------------------ steps

    async def _step(self, step: Step) -> bool:
        """Do one step; False when the run must end here (``error`` or ``stopped`` set)."""
        if isinstance(step, SleepStep):
            await self._pause(step.seconds)
            return True
        command = self._command(step)
        if command is None:
            return True
        events = await self._write(step.line, command)
        if events is None:
            return False
        refusal = next((e for e in events if isinstance(e, engine.Rejected)), None)
        if refusal is not None:
            self.rejected += 1
            self._note(f"line {step.line}: refused: {refusal.reason}")
        return True

    def _command(self, step: Step) -> engine.Command | None:
        """The engine command of a step, or None when it is skipped."""
        owner = self.peer.owner
        if isinstance(step, OrderStep):
            return step.command(owner, self.client_id(step.line), self._clock())
        if isinstance(step, CancelAllStep):
            return engine.CancelAll(owner, step.market)
        assert isinstance(step, AmendStep | CancelStep)  # sleeps never get here
        order = self._open_order(step)
        if order is None:
            return None
        if isinstance(step, CancelStep):
            return engine.Cancel(owner, client_id=order.client_id)
        return engine.Amend(owner, order.order_id, step.qty, step.price, step.trigger)

    def _open_order(self, step: AmendStep | CancelStep) -> engine.OrderView | None:
        """The labelled order if it is still open; otherwise count and note the skip."""
        client_id = self.client_id(self._labels[step.label])
        order = self.peer.exchange.order_by_client_id(self.peer.owner, client_id)
        if order is not None and order.status in (RESTING, PARTIALLY_FILLED, UNTRIGGERED):
            return order
        verb = "amend" if isinstance(step, AmendStep) else "cancel"
        state = "unknown" if order is None else order.status
        self.skipped += 1
        self._note(f"line {step.line}: {verb} skipped: {step.label} is not open ({state})")
        return None

    async def _write(self, line: int, command: engine.Command) -> list[engine.Event] | None:
        """Commit a command, retrying what may yet succeed; None when the run must end."""
        delay = BACKOFF
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _, events = await self.peer.execute(command)
                return events
            except RpcError as exc:
                if exc.code not in RETRYABLE:
                    self.error = f"line {line}: {exc}"
                    return None
                if attempt == ATTEMPTS:
                    self.error = f"line {line}: {exc} (gave up after {ATTEMPTS} attempts)"
                    return None
                self._note(f"line {line}: {exc.code}, retrying")
            await self._pause(delay)
            delay *= 2
            if self._stopping.is_set():
                self.stopped = True
                self._note(f"line {line}: stopped while retrying; it may not have been applied")
                return None
        return None  # unreachable: the loop returns on its last attempt

    async def _pause(self, seconds: float) -> None:
        """Sleep with the injected ``sleep``, ending early when the run is stopped."""
        if self._stopping.is_set():
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    def _note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
