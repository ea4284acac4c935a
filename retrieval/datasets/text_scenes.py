"""Pictures with text in them, and the queries that should find each: deterministic by seed.

Words, phrases, plate-like codes, invoice numbers and German words with umlauts and ß,
rendered in Debian's DejaVu and Liberation fonts (sans, serif, mono, bold) at 14 to 72
pixels, in several colours, on plain or busy photo-like backgrounds; some turned in their
pixels (tilted up to 10 degrees, 90, 180), some stored sideways with an EXIF orientation
tag that turns them upright; some with no text at all. Every target text is unique to its
picture, so each query has one right answer.
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
              "LiberationSans-Regular.ttf", "LiberationSerif-Regular.ttf", "LiberationMono-Regular.ttf",
              "LiberationSans-Bold.ttf")
KINDS = ("word", "phrase", "code", "accented", "number")
ROTATIONS = ("upright", "tilted", "turned90", "turned180", "exif90")
SIZES = ((640, 480), (800, 600), (1024, 768))
FILLER = ("OPEN", "SALE", "Welcome", "Exit", "Total", "Menu", "Today", "Street", "Office", "Price")
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_UMLAUTS = ("ä", "ö", "ü", "ß")
EXIF_ORIENTATION = 0x0112


class FontsMissing(RuntimeError):
    pass


@dataclass
class TextScene:
    name: str
    image: Image.Image  # as stored: an "exif90" scene is sideways, its tag turns it upright
    orientation: int  # EXIF orientation tag, 1: upright as stored
    lines: list[str]  # the text in the picture, line by line (empty: no text)
    kind: str  # what its target is: one of KINDS, or "none"
    rotation: str  # one of ROTATIONS
    size_px: int  # the target line's font size
    background: str  # "plain" or "busy"
    queries: dict[str, str] = field(default_factory=dict)  # query kind -> what a person would type


def fonts() -> list[str]:
    found = [os.path.join(folder, name) for folder in FONT_FOLDERS for name in FONT_NAMES
             if os.path.exists(os.path.join(folder, name))]
    if not found:
        raise FontsMissing("no DejaVu or Liberation fonts: apt-get install fonts-dejavu-core fonts-liberation")
    return found


def _pseudo_word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) + (rng.choice("nrlst") if rng.random() < 0.4 else "")
                   for _ in range(syllables)).capitalize()


class _Unique:
    """Texts never used twice in one corpus."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def take(self, make) -> str:
        while True:
            value = make(self.rng)
            key = value.lower().replace(" ", "")
            # Nor inside one another: a query for one must not be part of another's text.
            if not any(key in other or other in key for other in self.used):
                self.used.add(key)
                return value


def _target(kind: str, unique: _Unique) -> tuple[str, dict[str, str]]:
    """(the line to render, {query kind: query}) for one target kind."""
    if kind == "word":
        word = unique.take(lambda r: _pseudo_word(r, 3))
        return word, {"word": word}
    if kind == "phrase":
        phrase = unique.take(lambda r: f"{_pseudo_word(r, 2)} {_pseudo_word(r, 2)}")
        return phrase, {"phrase": phrase, "word": max(phrase.split(), key=len)}
    if kind == "code":
        code = unique.take(lambda r: "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
                           + f"{r.randrange(10, 100)} " + "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)))
        return code, {"code": code, "half_code": code.split()[0]}
    if kind == "accented":
        def make(r):
            word = _pseudo_word(r, 3)
            at = r.randrange(1, len(word) - 1)
            return word[:at] + r.choice(_UMLAUTS) + word[at + 1:]
        word = unique.take(make)
        typed = word.replace("ß", "ss").translate(str.maketrans("äöü", "aou"))
        return word, {"accented": word, "unaccented": typed}
    number = unique.take(lambda r: f"{r.randrange(2015, 2030)}-{r.randrange(0, 10000):04d}")
    return f"No. {number}", {"number": number}


def _background(rng: random.Random, size: tuple[int, int], busy: bool) -> Image.Image:
    if not busy:
        return Image.new("RGB", size, tuple(rng.randrange(0, 256) for _ in range(3)))
    nprng = np.random.default_rng(rng.randrange(2**32))
    coarse = (nprng.random((6, 8, 3)) * 160 + 48).astype(np.uint8)  # muted, as photos are
    image = Image.fromarray(coarse).resize(size, Image.BICUBIC)
    pen = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 9)):  # objects of a scene
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(20, size[0] // 3), rng.randrange(20, size[1] // 3)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)((x, y, x + w, y + h), fill=colour)
    grain = nprng.normal(0, 8, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))


def _ink(rng: random.Random, background: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """A text colour that stands out from the background under the text."""
    light = np.asarray(background.crop(box).convert("L"), np.float32).mean() > 128
    low, high = (0, 90) if light else (170, 256)
    return tuple(rng.randrange(low, high) for _ in range(3))


def _draw_lines(rng, image, lines, font_files, size_px, tilt) -> None:
    font = ImageFont.truetype(rng.choice(font_files), size_px)
    small = ImageFont.truetype(rng.choice(font_files), max(14, size_px // 2))
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(layer)
    width, height = image.size
    widths = [pen.textbbox((0, 0), line, font=font if i == 0 else small)[2] for i, line in enumerate(lines)]
    block_h = int(size_px * 1.3 + (len(lines) - 1) * size_px * 0.8)
    x = rng.randrange(10, max(11, width - max(widths) - 10))
    y = rng.randrange(10, max(11, height - block_h - 10))
    colour = _ink(rng, image, (x, y, min(width, x + max(widths)), min(height, y + block_h)))
    for number, line in enumerate(lines):
        pen.text((x, y), line, font=font if number == 0 else small, fill=colour + (255,))
        y += int(size_px * 1.3) if number == 0 else int(size_px * 0.8)
    if tilt:
        layer = layer.rotate(tilt, resample=Image.BICUBIC, center=(x, y))
    image.paste(layer, (0, 0), layer)


def make_text_scenes(count: int, seed: int = 0, text_share: float = 1.0) -> list[TextScene]:
    """``count`` scenes; about ``text_share`` of them hold text (the rest none)."""
    rng = random.Random(f"text-scenes-{seed}")
    font_files, unique, scenes = fonts(), _Unique(rng), []
    for number in range(count):
        size = rng.choice(SIZES)
        busy = rng.random() < 0.6
        image = _background(rng, size, busy)
        kind = rng.choice(KINDS) if rng.random() < text_share else "none"
        rotation, lines, queries, size_px = "upright", [], {}, 0
        if kind != "none":
            target, queries = _target(kind, unique)
            lines = [target] + ([rng.choice(FILLER)] if rng.random() < 0.5 else [])
            size_px = rng.randrange(14, 73)
            rotation = rng.choice(ROTATIONS)
            tilt = rng.uniform(-10, 10) if rotation == "tilted" else 0.0
            _draw_lines(rng, image, lines, font_files, size_px, tilt)
        orientation = 1
        if rotation == "turned90":
            image = image.transpose(Image.ROTATE_90 if rng.random() < 0.5 else Image.ROTATE_270)
        elif rotation == "turned180":
            image = image.transpose(Image.ROTATE_180)
        elif rotation == "exif90":
            image, orientation = image.transpose(Image.ROTATE_90), 6  # a viewer turns it 90 degrees clockwise
        scenes.append(TextScene(f"scene_{number:05d}", image, orientation, lines, kind, rotation, size_px,
                                "busy" if busy else "plain", queries))
    return scenes


def scene_bytes(scene: TextScene, quality: int = 92) -> bytes:
    """The scene as a JPEG file, with its EXIF orientation tag."""
    exif = Image.Exif()
    if scene.orientation != 1:
        exif[EXIF_ORIENTATION] = scene.orientation
    out = io.BytesIO()
    scene.image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def write_text_scenes(folder: str, scenes: list[TextScene]) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for scene in scenes:
        path = os.path.join(folder, scene.name + ".jpg")
        with open(path, "wb") as handle:
            handle.write(scene_bytes(scene))
        paths.append(path)
    return paths
