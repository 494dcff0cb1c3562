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


async def test_a_question_is_answered_at_once_and_a_silent_peer_is_not_fresh() -> None:
    """A peer asks (one-shot, legacy unicast) and every other peer answers at once with its
    current advertisement; one that has gone stops answering, so it is no longer fresh even
    while zeroconf's records of it linger."""
    a, b, c = Discovery("127.0.0.1"), Discovery("127.0.0.1"), Discovery("127.0.0.1")
    await a.start(Sighting("alice", 21, "c-9", "127.0.0.1:4201", "desk", False))
    await b.start(Sighting("bob", 22, "", "127.0.0.1:4202", "desk"))
    try:
        await c.start(Sighting("carol", 23, "", "127.0.0.1:4203", "desk"))
        assert c.queries == 1  # asked on start
        await until(lambda: {s.name for s in c.fresh(5)} == {"alice", "bob"}, 2.0)
        alice = next(s for s in c.fresh(5) if s.name == "alice")
        assert (alice.cluster, alice.cluster_id, alice.pristine) == ("desk", "c-9", False)
        await b.close()

        def only_alice_answers() -> bool:
            c.query()
            return {s.name for s in c.fresh(0.25)} == {"alice"}

        await until(only_alice_answers, 3.0)
    finally:
        await a.close()
        await b.close()
        await c.close()


def test_the_records_of_an_answer_read_back_as_a_sighting() -> None:
    from net.discovery import _txt

    props = _txt(b"\x07name=al\x04id=7\x09cluster=x\x05cn=cl\x03p=1\x04flag")
    assert props == {b"name": b"al", b"id": b"7", b"cluster": b"x", b"cn": b"cl", b"p": b"1",
                     b"flag": None}  # fmt: skip
    assert Sighting.from_parts(props, "127.0.0.1", 4000) == Sighting(
        "al", 7, "x", "127.0.0.1:4000", "cl", True
    )
    assert Sighting.from_parts(props, "", 4000) is None  # no address record: not usable
