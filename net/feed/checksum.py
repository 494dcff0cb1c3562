"""The book checksum: CRC32 of the top 25 levels, so a client can prove its book is the peer's.

A client builds its book from a snapshot and then applies updates; one lost or misapplied
update and it shows a wrong book with nothing to tell it so (the top complaint about every
exchange feed). Each book message therefore carries the checksum of the book *after* it,
which the client recomputes from its own copy. Because every peer applies the same log, the
checksum at a log index is the same on every peer.

Definition (``docs/feed.md`` has a worked example, checked by ``tests/test_feed_checksum.py``):
take the best 25 bids and the best 25 asks, best first, each level as the exact decimal
strings the feed sends; interleave them ``bid 1, ask 1, bid 2, ask 2, ...`` (a side that
runs out is skipped); write a bid as ``price:qty`` and an ask as ``price:-qty`` (the minus
says which side a level is on, so a lone bid and a lone ask at one price differ); join the
pieces with ``:``; the checksum is the CRC-32 (ISO-HDLC, as zlib and PNG) of that text's
ASCII bytes, as an unsigned 32-bit integer. An empty book's text is ``""``, its checksum 0.

It is written without the engine so that a client (``net/feed/client.py``) can use it as is.
"""

import zlib
from collections.abc import Sequence
from typing import Final

CHECKSUM_LEVELS: Final = 25  # levels per side that the checksum covers

#: A level as the feed sends it: decimal price and quantity strings.
TextLevel = Sequence[str]


def checksum_text(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> str:
    """The canonical text of the top levels (best first on each side); see the module doc."""
    parts: list[str] = []
    for i in range(CHECKSUM_LEVELS):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:-{asks[i][1]}")
    return ":".join(parts)


def book_checksum(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> int:
    """CRC-32 of :func:`checksum_text`, unsigned (0 to 2**32 - 1)."""
    return zlib.crc32(checksum_text(bids, asks).encode("ascii"))
