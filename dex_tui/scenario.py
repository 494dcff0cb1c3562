"""The scenario language (spec/scenario.md): a file of orders, checked whole before any is sent.

A scenario is one command a line (orders, amends, cancels, sleeps, market switches). The
parser turns it into steps whose prices are ticks and quantities lots, converted with the
engine's own :meth:`engine.Market.price_units` / :meth:`~engine.Market.qty_units` so a file is
refused for exactly what the engine would refuse. Every mistake becomes a
:class:`ScenarioError` at ``FILE:LINE:COLUMN`` pointing at the offending word and saying what
was expected there: a run that stops half-way because of a typo on line 300 would leave
orders in the book nobody meant to leave, so nothing is sent until the whole file parses.

The TUI's quick order line speaks the same grammar through :func:`parse_line`. Pure Python:
no Textual, no I/O except :func:`load_scenario`.

Extensions beyond spec/scenario.md (docs/tui.md lists them): ``gtd EXPIRY`` on a limit
order (``30s``, ``5m``, ``2h`` after the line is sent, or a local ``HH:MM[:SS]``), a
stop-market order ``sell 1 stop 1990 [min 1980]`` and a stop-limit ``sell 1 @ 1985 stop
1990``, and ``amend LABEL trigger PRICE`` for a labelled stop.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import engine

from .model.times import EXPIRY_EXAMPLES, Expiry, parse_expiry

MAX_FILE_BYTES = 1 << 20  # a scenario is typed or generated, never this large
MAX_SLEEP = 3600.0  # seconds: longer is a typo (or belongs in a script, not a scenario)
MAX_SHOWN = 30  # characters of an offending word quoted in a message

_TOKEN = re.compile(r"[@:]|[^\s@:]+")
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s)", re.IGNORECASE)

SIDES = {"buy": "buy", "b": "buy", "sell": "sell", "s": "sell"}
COMMANDS = "buy, sell, b, s, market, amend, cancel, sleep or a label followed by ':'"
#: Words a label may not be: they would read as part of the grammar (``cancel all``).
KEYWORDS = frozenset({*SIDES, *engine.TIFS, "post", "market", "max", "min", "amend", "cancel",
                      "all", "sleep", "qty", "price", "stop", "trigger"})  # fmt: skip
LIMIT_OPTIONS = "gtc, ioc, fok, gtd EXPIRY, post, stop PRICE or end of line"


class ScenarioError(ValueError):
    """A scenario (or quick line) that cannot be run; where, and what was expected there."""

    def __init__(self, filename: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{filename}:{line}:{column}: {message}")
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class OrderStep:
    line: int
    market: str
    label: str | None
    side: str  # "buy" / "sell"
    type: str  # "limit" / "market" / "stop" (market once triggered) / "stop_limit"
    price: int | None  # ticks: the limit price, or a market order's (or stop's) protection
    qty: int  # lots
    tif: str  # "gtc" / "ioc" / "fok" / "gtd"; a market order or a stop is "ioc"
    post_only: bool
    trigger: int | None = None  # ticks: a stop's trigger price
    expiry: Expiry | None = None  # a gtd order's, as written

    def command(self, owner: str, client_id: str, now: float = 0.0) -> engine.Submit:
        """This order as ``owner``'s submit (self-trade prevention off: typed orders, like
        the ticket's, do not ask for it); ``now`` (seconds since the epoch, when it is
        sent) is what a gtd expiry counts from."""
        expire_at = None if self.expiry is None else self.expiry.at_ms(now)
        return engine.Submit(owner, self.market, self.side, self.type, self.price, self.qty,
                             self.tif, self.post_only, "none", client_id, expire_at=expire_at,
                             trigger=self.trigger)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AmendStep:
    line: int
    market: str  # the labelled order's market
    label: str
    qty: int | None  # new total quantity, lots
    price: int | None  # new limit price, ticks
    trigger: int | None = None  # a stop's new trigger price, ticks


@dataclass(frozen=True, slots=True)
class CancelStep:
    line: int
    market: str  # the labelled order's market
    label: str


@dataclass(frozen=True, slots=True)
class CancelAllStep:
    line: int
    market: str


@dataclass(frozen=True, slots=True)
class SleepStep:
    line: int
    seconds: float


Step = OrderStep | AmendStep | CancelStep | CancelAllStep | SleepStep


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]  # ``market`` lines produce no step


# ---------------------------------------------------------------------------- entry points


def parse_scenario(
    text: str,
    markets: Mapping[str, engine.Market],
    default_market: str,
    filename: str = "<scenario>",
) -> Scenario:
    """Check a whole scenario and return its steps, or raise the first ScenarioError."""
    lines = [_tokenize(number, line) for number, line in enumerate(_split_lines(text), 1)]
    parser = _Parser(markets, default_market, filename, _label_definitions(lines))
    steps = [step for line in lines if (step := parser.line(line)) is not None]
    return Scenario(_name(filename), tuple(steps))


def parse_line(text: str, markets: Mapping[str, engine.Market], market: str) -> Step:
    """One command typed on the TUI's quick order line, for ``market`` (the one on screen).

    An order or ``cancel all``. Labels are refused: one line typed on its own has no
    earlier lines to name, so ``o7:``, ``amend o7`` and ``cancel o7`` could mean nothing.
    """
    if "\n" in text.rstrip("\r\n"):
        raise ScenarioError("<input>", 1, text.index("\n") + 1, "expected a single line")
    line = _tokenize(1, text.rstrip("\r\n"))
    parser = _Parser(markets, market, "<input>", {}, quick=True)
    if not line.tokens:
        raise line.error(parser.filename, 0, "expected an order such as 'buy 0.5 @ 2000'")
    step = parser.line(line)
    assert step is not None  # the quick parser refuses what produces no step
    return step


def load_scenario(
    path: Path, markets: Mapping[str, engine.Market], default_market: str
) -> Scenario:
    """Read (UTF-8, at most 1 MiB) and parse a scenario file."""
    filename = str(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(filename, 1, 1, f"cannot read the file: {_os_reason(exc)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(filename, 1, 1, "file too large: a scenario is at most 1 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = data[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text: undecodable byte 0x{data[exc.start]:02x} on line {where}"
        raise ScenarioError(filename, 1, 1, problem) from None
    return parse_scenario(text, markets, default_market, filename)


def format_step(step: Step, markets: Mapping[str, engine.Market]) -> str:
    """A step as one scenario line (without its market): ``parse`` reads it back equal."""
    if isinstance(step, SleepStep):
        return f"sleep {_duration_text(step.seconds)}"
    if isinstance(step, CancelAllStep):
        return "cancel all"
    if isinstance(step, CancelStep):
        return f"cancel {step.label}"
    market = markets[step.market]
    if isinstance(step, AmendStep):
        qty = "" if step.qty is None else f" qty {market.qty_text(step.qty)}"
        price = "" if step.price is None else f" price {market.price_text(step.price)}"
        trigger = "" if step.trigger is None else f" trigger {market.price_text(step.trigger)}"
        return f"amend {step.label}{qty}{price}{trigger}"
    words = [f"{step.label}:"] if step.label else []
    words += [step.side, market.qty_text(step.qty)]
    if step.type in ("market", "stop"):
        words += ["market"] if step.type == "market" else ["stop", _text(market, step.trigger)]
        if step.price is not None:
            words += ["max" if step.side == "buy" else "min", market.price_text(step.price)]
        return " ".join(words)
    words += ["@", _text(market, step.price)]
    words += ["stop", _text(market, step.trigger)] if step.type == "stop_limit" else []
    if step.tif == "gtd":
        assert step.expiry is not None
        words += ["gtd", step.expiry.text()]
    elif step.tif != "gtc":
        words.append(step.tif)
    words += ["post"] if step.post_only else []
    return " ".join(words)


def _text(market: engine.Market, ticks: int | None) -> str:
    assert ticks is not None  # a limit price or a trigger: their steps always have one
    return market.price_text(ticks)


# ---------------------------------------------------------------------------- lines and words


@dataclass(slots=True)
class _Line:
    """One line's words (comment cut off) as (0-based column, text), and where it ends."""

    number: int
    tokens: list[tuple[int, str]]
    end: int  # 0-based column just after the last word

    def error(self, filename: str, index: int, message: str) -> ScenarioError:
        """An error at word ``index``, or just after the last word if there is none."""
        column = self.tokens[index][0] if index < len(self.tokens) else self.end
        return ScenarioError(filename, self.number, column + 1, message)


def _split_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: only ``\\n`` (or ``\\r\\n``) ends one."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _tokenize(number: int, line: str) -> _Line:
    code = line.split("#", 1)[0]
    tokens = [(m.start(), m.group()) for m in _TOKEN.finditer(code)]
    end = tokens[-1][0] + len(tokens[-1][1]) if tokens else 0
    return _Line(number, tokens, end)


def _label_definitions(lines: list[_Line]) -> dict[str, int]:
    """label -> the first line defining it, so a too-early use can say where it comes."""
    found: dict[str, int] = {}
    for line in lines:
        words = [text for _, text in line.tokens[:2]]
        if len(words) == 2 and words[1] == ":":
            found.setdefault(words[0], line.number)
    return found


def _show(word: str) -> str:
    """A word quoted for a message: shortened, and escaped if it is not printable."""
    short = word if len(word) <= MAX_SHOWN else word[:MAX_SHOWN] + "..."
    return f"'{short}'" if short.isprintable() else repr(short)


def _name(filename: str) -> str:
    return filename if filename.startswith("<") else Path(filename).stem


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or type(exc).__name__


def _duration_text(seconds: float) -> str:
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    millis = round(seconds * 1000)
    if millis / 1000 == seconds:
        return f"{millis}ms"
    return f"{Decimal(repr(seconds)):f}s"


# ---------------------------------------------------------------------------- the parser


@dataclass(slots=True)
class _Label:
    line: int
    market: str
    rests: bool  # False for market, ioc and fok orders: nothing left to amend or cancel
    kind: str  # what the order is, for a message: "a market order", "an ioc order", ...
    stop: bool = False  # a stop or stop-limit: it has a trigger to amend


class _Cursor:
    """Walks the words of one line; ``fail`` raises at the current word (or the line end)."""

    def __init__(self, line: _Line, filename: str) -> None:
        self.line = line
        self.filename = filename
        self.index = 0

    def peek(self) -> str | None:
        tokens = self.line.tokens
        return tokens[self.index][1] if self.index < len(tokens) else None

    def take(self) -> str | None:
        word = self.peek()
        if word is not None:
            self.index += 1
        return word

    def take_joined(self) -> str | None:
        """The next word with any ``:`` and words written right against it (``14:30:15``
        is three tokens, since ``:`` ends a label)."""
        tokens = self.line.tokens
        word = self.take()
        while word is not None and self.index < len(tokens):
            column, text = tokens[self.index]
            if column != tokens[self.index - 1][0] + len(tokens[self.index - 1][1]):
                break
            if text != ":" and tokens[self.index - 1][1] != ":":
                break
            word += text
            self.index += 1
        return word

    def fail(self, message: str, back: int = 0) -> ScenarioError:
        return self.line.error(self.filename, self.index - back, message)

    def end(self, expected: str) -> None:
        word = self.peek()
        if word is not None:
            raise self.fail(f"unexpected {_show(word)}: expected {expected}")


class _Parser:
    """Parses lines in order, tracking the current market and the labels defined so far."""

    def __init__(
        self,
        markets: Mapping[str, engine.Market],
        default_market: str,
        filename: str,
        definitions: dict[str, int],
        quick: bool = False,
    ) -> None:
        self.markets = markets
        self.by_lower = {symbol.lower(): symbol for symbol in markets}
        self.market = self.by_lower.get(default_market.lower())
        self.default_market = default_market
        self.filename = filename
        self.definitions = definitions
        self.labels: dict[str, _Label] = {}
        self.quick = quick

    def line(self, line: _Line) -> Step | None:
        if not line.tokens:
            return None
        cur = _Cursor(line, self.filename)
        first = cur.peek() or ""
        word = first.lower()
        if len(line.tokens) > 1 and line.tokens[1][1] == ":":
            return self.labelled(cur)
        if word in SIDES:
            return self.order(cur, None)
        if word == "cancel":
            return self.cancel(cur)
        if self.quick:
            raise cur.fail(self.quick_refusal(word))
        if word == "market":
            self.switch(cur)
            return None
        if word == "amend":
            return self.amend(cur)
        if word == "sleep":
            return self.sleep(cur)
        raise cur.fail(f"unknown word {_show(first)}: expected {COMMANDS}")

    def quick_refusal(self, word: str) -> str:
        expected = "expected an order such as 'buy 0.5 @ 2000', or 'cancel all'"
        if word == "market":
            return f"{expected}; switch markets with the market selector"
        if word in ("amend", "sleep"):
            return f"{expected}; '{word}' belongs in a scenario file"
        return expected

    # ------------------------------------------------------------------ commands

    def switch(self, cur: _Cursor) -> None:
        cur.take()
        self.market = self.symbol(cur)
        cur.end("end of line after the market symbol")

    def labelled(self, cur: _Cursor) -> OrderStep:
        label = cur.take() or ""
        if self.quick:
            raise cur.fail(
                "labels are for scenario files: the quick line has no later lines to use "
                "them; expected an order such as 'buy 0.5 @ 2000'",
                back=1,
            )
        self.check_label_name(cur, label)
        prior = self.labels.get(label)
        if prior is not None:
            raise cur.fail(
                f"label {label} is already defined on line {prior.line}: expected a new label",
                back=1,
            )
        cur.take()  # ":"
        if (cur.peek() or "").lower() not in SIDES:
            raise cur.fail(f"expected an order (buy, sell, b or s) after the label '{label}:'")
        return self.order(cur, label)

    def order(self, cur: _Cursor, label: str | None) -> OrderStep:
        side = SIDES[(cur.take() or "").lower()]
        symbol = self.current_market(cur)
        qty = self.qty(cur, symbol, f"a quantity after '{side}'")
        word = (cur.peek() or "").lower()
        if word == "@":
            cur.take()
            step = self.limit(cur, label, side, symbol, qty)
        elif word == "market":
            cur.take()
            step = self.market_order(cur, label, side, symbol, qty)
        elif word == "stop":
            cur.take()
            trigger = self.price(cur, symbol, "a trigger price after 'stop'", "trigger")
            step = self.market_order(cur, label, side, symbol, qty, trigger)
        else:
            raise self.unexpected(cur, "'@ PRICE' for a limit order, 'market' or 'stop PRICE'")
        if label is not None:
            self.labels[label] = _label(cur.line.number, step)
        return step

    def limit(self, cur: _Cursor, label: str | None, side: str, symbol: str, qty: int) -> OrderStep:
        price = self.price(cur, symbol, "a price after '@'")
        tif, post = "", False
        trigger: int | None = None
        expiry: Expiry | None = None
        while (word := cur.peek()) is not None:
            low = word.lower()
            if low in engine.TIFS:
                if tif:
                    raise cur.fail(f"time in force given twice ({tif}, then {low}): expected one")
                if post and low in ("ioc", "fok"):
                    raise cur.fail(self.post_conflict(low))
                tif = low
                cur.take()
                if low == "gtd":
                    expiry = self.expiry(cur)
                continue
            if low == "post":
                if post:
                    raise cur.fail("post given twice: expected it once")
                if tif in ("ioc", "fok"):
                    raise cur.fail(self.post_conflict(tif))
                post = True
            elif low == "stop":
                if trigger is not None:
                    raise cur.fail("stop given twice: expected one trigger price")
                cur.take()
                trigger = self.price(cur, symbol, "a trigger price after 'stop'", "trigger")
                continue
            else:
                raise cur.fail(f"unexpected {_show(word)}: expected {LIMIT_OPTIONS}")
            cur.take()
        kind = "limit" if trigger is None else "stop_limit"
        return OrderStep(cur.line.number, symbol, label, side, kind, price, qty, tif or "gtc",
                         post, trigger, expiry)  # fmt: skip

    def expiry(self, cur: _Cursor) -> Expiry:
        start = cur.index
        word = cur.take_joined()
        if word is None:
            raise cur.fail(f"expected {EXPIRY_EXAMPLES} after 'gtd'")
        try:
            return parse_expiry(word)
        except ValueError as exc:
            raise cur.fail(f"bad expiry after 'gtd': {exc}", back=cur.index - start) from None

    @staticmethod
    def post_conflict(tif: str) -> str:
        return (
            f"post-only cannot be {tif}: a post-only order must rest in the book, "
            f"and {tif} never rests; drop one of them"
        )

    def market_order(
        self,
        cur: _Cursor,
        label: str | None,
        side: str,
        symbol: str,
        qty: int,
        trigger: int | None = None,
    ) -> OrderStep:
        """A market order, or with a ``trigger`` a stop (a market order once triggered):
        an optional protection price, nothing else."""
        word = cur.peek()
        low = (word or "").lower()
        what = "market order" if trigger is None else "stop order"
        protection = "max PRICE (the most it pays)"
        if side == "sell":
            protection = "min PRICE (the least it takes)"
        price = None
        if low == "max" or (low == "min" and side == "sell"):
            cur.take()
            price = self.price(cur, symbol, f"a protection price after '{low}'")
        elif word is not None:
            if low in (*engine.TIFS, "post"):
                problem = f"a {what} takes no {low} (it never rests)"
                if trigger is not None:
                    problem = (
                        f"a stop order takes no {low} (it becomes a market order, which never "
                        "rests; a stop-limit, '@ PRICE stop TRIGGER', can)"
                    )
            elif low == "min":
                problem = f"a buy {what} has no 'min'"
            elif low == "stop":
                problem = "a stop order has one trigger price"
            else:
                problem = f"unexpected {_show(word)}"
            raise cur.fail(f"{problem}: expected {protection} or end of line")
        cur.end("end of line after the protection price")
        kind = "market" if trigger is None else "stop"
        return OrderStep(cur.line.number, symbol, label, side, kind, price, qty, "ioc", False,
                         trigger)  # fmt: skip

    def amend(self, cur: _Cursor) -> AmendStep:
        cur.take()
        label, known = self.reference(cur, "amend")
        fields: dict[str, int] = {}
        names = ("qty", "price", "trigger") if known.stop else ("qty", "price")
        expected = ", ".join(f"{n} {n.upper()}" for n in names)
        while (word := cur.peek()) is not None:
            low = word.lower()
            if low == "trigger" and not known.stop:
                raise cur.fail(
                    f"label {label} names {known.kind} (line {known.line}), which has no "
                    f"trigger: expected {expected} or end of line"
                )
            if low not in names:
                raise cur.fail(f"unexpected {_show(word)}: expected {expected} or end of line")
            if low in fields:
                raise cur.fail(f"{low} given twice: expected it once")
            cur.take()
            if low == "qty":
                fields[low] = self.qty(cur, known.market, "a quantity after 'qty'")
            else:
                fields[low] = self.price(cur, known.market, f"a price after '{low}'", low)
        if not fields:
            *others, last = expected.split(", ")
            raise cur.fail(f"expected {', '.join(others)} and/or {last} after '{label}'")
        return AmendStep(cur.line.number, known.market, label, fields.get("qty"),
                         fields.get("price"), fields.get("trigger"))  # fmt: skip

    def cancel(self, cur: _Cursor) -> CancelStep | CancelAllStep:
        cur.take()
        if (cur.peek() or "").lower() == "all":
            cur.take()
            symbol = self.current_market(cur)
            cur.end("end of line after 'cancel all'")
            return CancelAllStep(cur.line.number, symbol)
        if self.quick:
            expected = "expected 'all' after 'cancel'"
            if cur.peek() is None:
                raise cur.fail(expected)
            raise cur.fail(f"{expected}: labels are for scenario files, not the quick line")
        label, known = self.reference(cur, "cancel")
        cur.end(f"end of line after 'cancel {label}'")
        return CancelStep(cur.line.number, known.market, label)

    def sleep(self, cur: _Cursor) -> SleepStep:
        cur.take()
        word = cur.take()
        match = _DURATION.fullmatch(word or "")
        if word is None or match is None:
            raise cur.fail("expected a duration such as 250ms or 2s", back=0 if word is None else 1)
        number, unit = float(match.group(1)), match.group(2).lower()
        seconds = number / 1000 if unit == "ms" else number
        if seconds > MAX_SLEEP:
            raise cur.fail("expected a duration of at most 1 hour (3600s)", back=1)
        cur.end("end of line after the duration")
        return SleepStep(cur.line.number, seconds)

    # ------------------------------------------------------------------ pieces

    def symbol(self, cur: _Cursor) -> str:
        expected = f"a market symbol ({', '.join(self.markets) or 'no markets exist'})"
        word = cur.take()
        if word is None:
            raise cur.fail(f"expected {expected} after 'market'")
        found = self.by_lower.get(word.lower())
        if found is None:
            raise cur.fail(f"unknown market {_show(word)}: expected {expected}", back=1)
        return found

    def current_market(self, cur: _Cursor) -> str:
        if self.market is None:
            raise cur.fail(
                f"no market selected: the default market {_show(self.default_market)} does not "
                "exist; add a line 'market SYMBOL' before this one",
                back=1,
            )
        return self.market

    def qty(self, cur: _Cursor, symbol: str, expected: str) -> int:
        market = self.markets[symbol]
        expected = f"{expected} (in lots of {market.lot} on {symbol})"
        return self.amount(cur, expected, market.qty_units)

    def price(self, cur: _Cursor, symbol: str, expected: str, field: str = "price") -> int:
        market = self.markets[symbol]
        expected = f"{expected} (on the tick {market.tick} of {symbol})"
        return self.amount(cur, expected, lambda word: market.price_units(word, field))

    @staticmethod
    def amount(cur: _Cursor, expected: str, convert: Callable[[str], int]) -> int:
        word = cur.take()
        if word is None or word in ("@", ":"):
            raise cur.fail(f"expected {expected}", back=0 if word is None else 1)
        try:
            return convert(word)
        except engine.InvalidInput as exc:
            raise cur.fail(f"expected {expected}: {exc}", back=1) from None

    def reference(self, cur: _Cursor, verb: str) -> tuple[str, _Label]:
        """The label after ``amend``/``cancel``: defined earlier, for an order that rests."""
        word = cur.take()
        if word is None:
            also = " or 'all'" if verb == "cancel" else ""
            raise cur.fail(f"expected a label after '{verb}'{also}")
        known = self.labels.get(word)
        if known is None:
            raise cur.fail(self.unknown_label(word, cur.line.number), back=1)
        if not known.rests:
            raise cur.fail(
                f"label {word} names {known.kind} (line {known.line}), which never rests "
                f"in the book: nothing to {verb}",
                back=1,
            )
        return word, known

    def unknown_label(self, word: str, number: int) -> str:
        later = self.definitions.get(word)
        if later is not None and later >= number:
            return (
                f"label {word} is used before it is defined (on line {later}): "
                "expected a label defined on an earlier line"
            )
        similar = [label for label in self.labels if label.lower() == word.lower()]
        hint = f" (labels are case-sensitive: did you mean {similar[0]}?)" if similar else ""
        return f"unknown label {_show(word)}: expected a label defined on an earlier line{hint}"

    def check_label_name(self, cur: _Cursor, label: str) -> None:
        if not _LABEL.fullmatch(label):
            raise cur.fail(
                f"bad label {_show(label)}: expected a letter followed by letters, digits or _",
                back=1,
            )
        if label.lower() in KEYWORDS:
            raise cur.fail(f"{_show(label)} is a keyword: expected a label that is not one", back=1)

    def unexpected(self, cur: _Cursor, expected: str) -> ScenarioError:
        word = cur.peek()
        if word is None:
            return cur.fail(f"expected {expected}")
        return cur.fail(f"unexpected {_show(word)}: expected {expected}")


def _label(line: int, step: OrderStep) -> _Label:
    """What a label names: whether its order can rest (so be amended or cancelled later)."""
    if step.type in ("stop", "stop_limit"):  # it waits in the book for its trigger
        kind = "a stop order" if step.type == "stop" else "a stop-limit order"
        return _Label(line, step.market, True, kind, stop=True)
    if step.type == "market":
        return _Label(line, step.market, False, "a market order")
    kind = {"ioc": "an ioc", "fok": "a fok", "gtd": "a gtd"}.get(step.tif, "a gtc")
    return _Label(line, step.market, step.tif in ("gtc", "gtd"), f"{kind} order")
