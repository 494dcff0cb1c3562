"""Zeroconf discovery on the loopback interface only."""

import asyncio

from net.discovery import Discovery, Sighting


async def until(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` until true, failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_peers_see_each_other_and_updates() -> None:
    a, b = Discovery("127.0.0.1"), Discovery("127.0.0.1")
    me_a = Sighting("alice", 11, "", "127.0.0.1:4101")
    me_b = Sighting("bob", 12, "", "127.0.0.1:4102")
    await a.start(me_a)
    await b.start(me_b)
    try:
        await until(lambda: me_b in a.seen.values() and me_a in b.seen.values())
        founded = Sighting("alice", 11, "c-1234", "127.0.0.1:4101")
        await a.update(founded)
        await until(lambda: founded in b.seen.values())
        assert me_a not in b.seen.values()
    finally:
        await a.close()
        await b.close()


def test_a_malformed_advertisement_is_ignored() -> None:
    class Info:
        properties = {b"id": b"not-a-number", b"name": b"x"}
        port = 4000

        def parsed_addresses(self, version: object) -> list[str]:
            return ["127.0.0.1"]

    assert Sighting.from_info(Info()) is None  # type: ignore[arg-type]
