"""The OCR engine interface: a picture in, its text lines out, each a Region (the line's
text as label, the engine's confidence as score, its box and corners in the picture's
upright pixel coordinates)."""

from __future__ import annotations

from typing import Sequence

from PIL import Image

from retrieval.regions import Region

DEFAULT_OCR = "rapidocr"


class OcrError(RuntimeError):
    """An OCR engine could not be loaded or could not read a picture; the message says why."""


class OcrNotInstalled(OcrError):
    """The engine's package or program is not on this machine; the message says how to install it."""


class OcrEngine:
    """Base class; engines implement ``_read`` for one picture."""

    # Changes whenever the engine's output could (version, weights, options): cached text
    # is keyed by it, so a new engine never serves an old one's reading.
    name: str = "ocr"
    method: str = "ocr"  # what the regions say found them

    def read(self, image: Image.Image) -> list[Region]:
        """The text lines of one upright RGB picture, top to bottom."""
        return self._read(image.convert("RGB"))

    def read_many(self, images: Sequence[Image.Image]) -> list[list[Region]]:
        return [self.read(image) for image in images]

    def _read(self, image: Image.Image) -> list[Region]:
        raise NotImplementedError


def full_text(lines: Sequence[Region]) -> str:
    """The lines of a reading as one text, a line each (line n of the text is line n of the reading)."""
    return "\n".join(" ".join(line.label.splitlines()) for line in lines)
