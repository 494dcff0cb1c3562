"""The ``dex-tui`` command. For now it only reports its version; the peer and the
terminal interface arrive with the node and TUI issues (see ``../shared/spec/cli.md``)."""

import argparse
from importlib.metadata import version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dex-tui", description="A peer-to-peer exchange in the terminal."
    )
    parser.add_argument("--version", action="version", version=f"dex-tui {version('dex')}")
    parser.parse_args(argv)
    print(f"dex-tui {version('dex')}: the engine is ready; the peer and the terminal UI are next.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
