"""Where scenario files are found, and the list of recently loaded ones.

Scenario folders are ``./scenarios`` (where the user started the app) and the examples
shipped beside the package. Recent files are kept, newest first, in a small text file in
the peer's data dir; without one (a test) the list lives in memory only.
"""

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios"
RECENT_KEEP = 8


def scenario_dirs() -> list[Path]:
    dirs = []
    for folder in (Path.cwd() / "scenarios", SHIPPED):
        if folder.is_dir() and folder.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(folder)
    return dirs


def scenario_files(dirs: list[Path]) -> list[Path]:
    return [p for d in dirs for p in sorted(d.iterdir()) if p.is_file() and p.suffix == ".txt"]


class Recent:
    def __init__(self, store: Path | None) -> None:
        self.store = store
        self.paths: list[Path] = []
        if store is not None and store.is_file():
            lines = store.read_text(encoding="utf-8", errors="replace").splitlines()
            self.paths = [Path(line) for line in lines if line.strip()][:RECENT_KEEP]

    def add(self, path: Path) -> None:
        path = path.resolve()
        self.paths = [path, *(p for p in self.paths if p != path)][:RECENT_KEEP]
        if self.store is not None:
            self.store.write_text("".join(f"{p}\n" for p in self.paths), encoding="utf-8")
