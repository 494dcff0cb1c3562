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


def piece(level: TextLevel, is_bid: bool) -> str:
    """One level's part of the text: ``price:qty`` for a bid, ``price:-qty`` for an ask."""
    return f"{level[0]}:{level[1]}" if is_bid else f"{level[0]}:-{level[1]}"


def pieces_text(bids: Sequence[str], asks: Sequence[str]) -> str:
    """The canonical text from each side's pieces (best first), interleaved bid first."""
    bids, asks = bids[:CHECKSUM_LEVELS], asks[:CHECKSUM_LEVELS]
    parts = [part for pair in zip(bids, asks, strict=False) for part in pair]
    shorter = min(len(bids), len(asks))
    parts += bids[shorter:] or asks[shorter:]  # one side ran out: the other runs on
    return ":".join(parts)


def checksum_text(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> str:
    """The canonical text of the top levels (best first on each side); see the module doc."""
    return pieces_text(
        [piece(level, True) for level in bids[:CHECKSUM_LEVELS]],
        [piece(level, False) for level in asks[:CHECKSUM_LEVELS]],
    )


def book_checksum(bids: Sequence[TextLevel], asks: Sequence[TextLevel]) -> int:
    """CRC-32 of :func:`checksum_text`, unsigned (0 to 2**32 - 1)."""
    return zlib.crc32(checksum_text(bids, asks).encode("ascii"))


def pieces_checksum(bids: Sequence[str], asks: Sequence[str]) -> int:
    """:func:`book_checksum` from pieces a caller keeps (the server renders each once)."""
    return zlib.crc32(pieces_text(bids, asks).encode("ascii"))
