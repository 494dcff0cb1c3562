"""Write the README's screenshots: the main screen, the scenario picker, and no quorum.

    .venv/bin/python scripts/screenshots.py          # SVG, plus PNG if cairosvg is installed

The app runs headless (Textual's test driver) over a ``LocalPeer`` with a fixed book and a
fixed clock, the same setup as the snapshot tests, so the images change only when the
screen does. PNGs need ``pip install cairosvg`` and look right with the Fira Code font
(Debian: fonts-firacode), which Textual's SVGs ask for.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tui_helpers import cut_off_peer, make_app, trade_live, trading_peer  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (130, 40)


async def shoot(name: str, peer, keys: tuple[str, ...] = (), live: bool = False) -> Path:
    app = make_app(peer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        if live:
            await trade_live(pilot)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(0.3)
        path = OUT / f"{name}.svg"
        path.write_text(app.export_screenshot(title=f"dex — {name.replace('-', ' ')}"))
    return path


def to_png(svg: Path) -> Path | None:
    try:
        import cairosvg
    except ImportError:
        return None
    png = svg.with_suffix(".png")
    cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=1600)
    return png


async def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    OUT.mkdir(exist_ok=True)
    shots = [
        await shoot("main", trading_peer(), live=True),
        await shoot("scenario-picker", trading_peer(), keys=("ctrl+o",)),
        await shoot("no-quorum", cut_off_peer()),
    ]
    for svg in shots:
        png = to_png(svg)
        print(
            f"wrote {svg.relative_to(ROOT)}"
            + (f" and {png.name}" if png else " (no PNG: pip install cairosvg)")
        )


if __name__ == "__main__":
    asyncio.run(main())
