"""dex's exchange engine: a pure, deterministic, multi-market matching state machine.

No I/O, clocks, randomness, asyncio or floats. Feed :class:`Exchange.apply` the same
commands in the same order, and :meth:`Exchange.advance` the same consensus times (the
log's), and you get the same events, state and :meth:`digest`.
Prices are integer ticks and quantities integer lots; :class:`Market` converts decimal
strings at the edge and refuses anything off the tick or lot.

The modules may be compiled with mypyc (``scripts/build_engine.py``) for speed; this file
is never compiled, and refuses compiled modules whose sources changed after the build.
"""

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def source_hash() -> str:
    """SHA-256 over the engine's compiled-able sources (every module but this one)."""
    digest = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")):
        if path.name != "__init__.py":
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


#: True when the mypyc-compiled modules are in use.
COMPILED = any(_HERE.glob("*.so"))
if COMPILED:
    _stamp = _HERE / "_compiled.stamp"
    if not _stamp.exists() or _stamp.read_text().strip() != source_hash():
        raise ImportError(
            "engine: the compiled modules are older than their sources; run "
            "`python scripts/build_engine.py` (or `--clean` to use the sources as they are)"
        )

from .candles import INTERVALS
from .commands import (
    FOUNDING_MARKETS,
    ORDER_TYPES,
    TIFS,
    Amend,
    Cancel,
    CancelAll,
    Command,
    Configure,
    CreateMarket,
    OpenAccount,
    Submit,
    Transfer,
    encode_command,
    parse_command,
)
from .errors import InvalidInput
from .events import (
    Accepted,
    AccountOpened,
    Amended,
    Cancelled,
    Configured,
    Done,
    Event,
    MarketCreated,
    Rejected,
    Trade,
    Transferred,
    Triggered,
)
from .exchange import Exchange
from .markets import Market
from .orders import OrderView

__all__ = [
    "FOUNDING_MARKETS",
    "INTERVALS",
    "ORDER_TYPES",
    "TIFS",
    "Accepted",
    "AccountOpened",
    "Amend",
    "Amended",
    "Cancel",
    "CancelAll",
    "Cancelled",
    "Command",
    "Configure",
    "Configured",
    "CreateMarket",
    "Done",
    "Event",
    "Exchange",
    "InvalidInput",
    "Market",
    "MarketCreated",
    "OpenAccount",
    "OrderView",
    "Rejected",
    "Submit",
    "Trade",
    "Transfer",
    "Transferred",
    "Triggered",
    "encode_command",
    "parse_command",
]
