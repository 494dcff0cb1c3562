"""The mypyc build of the engine: it must behave exactly like the sources it came from.

CI compiles the engine (scripts/setup), so the rest of the suite tests the compiled code;
these tests run the same seeded stream through a copy of the plain sources in a child
process and demand identical events and digests, and check the stale-build guard.
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import engine

ENGINE_DIR = Path(engine.__file__).parent

# Runs in a child process against whichever `engine` is first on its path; prints a digest of
# every event of a seeded mixed stream, and the final state digest.
STREAM = textwrap.dedent(
    """
    import hashlib, json, random
    import engine
    from engine import CreateMarket, Submit, Cancel, Amend, CancelAll, Exchange

    rng = random.Random(11)
    ex = Exchange(history_limit=300)
    events = hashlib.sha256()
    index = 0
    def apply(cmd):
        global index
        index += 1
        for event in ex.apply(cmd, index):
            events.update(repr(event).encode())
    apply(CreateMarket("BTC/USD", "BTC", "USD", "0.1", "0.001"))
    for n in range(4000):
        owner = rng.choice(["a", "b", "c"])
        roll = rng.random()
        if roll < 0.55:
            apply(Submit(owner, "BTC/USD", rng.choice(["buy", "sell"]), "limit",
                         1000 + rng.randrange(-15, 16), 1 + rng.randrange(9),
                         tif=rng.choice(["gtc", "gtc", "ioc", "fok"]),
                         stp=rng.choice(["none", "cancel_taker", "cancel_maker", "cancel_both"]),
                         client_id=f"c{rng.randrange(3000)}"))
        elif roll < 0.65:
            apply(Submit(owner, "BTC/USD", rng.choice(["buy", "sell"]), "market", None,
                         1 + rng.randrange(9), tif="ioc"))
        elif roll < 0.9:
            apply(Cancel(owner, rng.randrange(1, n + 2)))
        elif roll < 0.98:
            apply(Amend(owner, rng.randrange(1, n + 2), qty=1 + rng.randrange(9),
                        price=rng.choice([None, 1000 + rng.randrange(-15, 16)])))
        else:
            apply(CancelAll(owner))
    print(json.dumps({"compiled": engine.COMPILED, "events": events.hexdigest(),
                      "digest": ex.digest()}))
    """
)


def run_stream(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", STREAM],
        cwd=path,
        env={"PYTHONPATH": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.skipif(not engine.COMPILED, reason="engine not compiled (scripts/build_engine.py)")
def test_compiled_engine_matches_its_sources(tmp_path: Path) -> None:
    shutil.copytree(
        ENGINE_DIR, tmp_path / "engine", ignore=shutil.ignore_patterns("*.so", "*.stamp")
    )
    compiled = run_stream(ENGINE_DIR.parent)
    interpreted = run_stream(tmp_path)
    assert compiled["compiled"] is True
    assert interpreted["compiled"] is False
    assert compiled["events"] == interpreted["events"]
    assert compiled["digest"] == interpreted["digest"]


def test_compiled_modules_older_than_sources_are_refused(tmp_path: Path) -> None:
    package = tmp_path / "engine"
    shutil.copytree(ENGINE_DIR, package, ignore=shutil.ignore_patterns("*.so", "*.stamp"))
    (package / "fake.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (package / "_compiled.stamp").write_text("0" * 64 + "\n")
    result = subprocess.run(
        [sys.executable, "-c", "import engine"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "older than their sources" in result.stderr
