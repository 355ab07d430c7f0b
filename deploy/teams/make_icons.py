"""Make the two icons of the Teams app package (run once; the PNGs are in git).

color.png: 192×192, a full-colour square. outline.png: 32×32, white on transparent, as
Teams asks. Needs Pillow: `.venv/bin/python deploy/teams/make_icons.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ACCENT = (31, 95, 139, 255)  # the manifest's accentColor, #1F5F8B
WHITE = (255, 255, 255, 255)


def house(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int, int]) -> None:
    """A simple house: a roof and a body with a door."""
    s = size / 32
    draw.polygon([(16 * s, 4 * s), (29 * s, 15 * s), (3 * s, 15 * s)], fill=colour)
    draw.rectangle([7 * s, 15 * s, 25 * s, 28 * s], fill=colour)


def main() -> None:
    color = Image.new("RGBA", (192, 192), ACCENT)
    draw = ImageDraw.Draw(color)
    inner = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    house(ImageDraw.Draw(inner), 128, WHITE)
    color.alpha_composite(inner, (32, 28))
    draw.rectangle([88, 128, 104, 156], fill=ACCENT)  # the door
    color.save(HERE / "color.png")

    outline = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    house(ImageDraw.Draw(outline), 32, WHITE)
    ImageDraw.Draw(outline).rectangle([14, 21, 18, 28], fill=(0, 0, 0, 0))
    outline.save(HERE / "outline.png")


if __name__ == "__main__":
    main()
