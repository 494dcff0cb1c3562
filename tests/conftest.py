"""Fixtures shared by the tests that start real peers."""

import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from cluster_helpers import Cluster


@pytest.fixture
async def make_cluster(tmp_path) -> AsyncIterator[Callable[..., Cluster]]:
    """Clusters for one test: every peer is killed afterwards (none is ever left stopped),
    and the peers' logs are printed, which pytest shows when the test failed."""
    made: list[Cluster] = []

    def make(**options: object) -> Cluster:
        made.append(Cluster(tmp_path, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for cluster in made:
        for peer in cluster.peers:
            if peer.proc is not None and peer.proc.poll() is None:
                os.kill(peer.proc.pid, signal.SIGCONT)
        print(cluster.logs())
        await cluster.close()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC (for tests of screens that show consensus time in local time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
