"""The whole picture as the model sees it for localisation: shrunk to fit its square input
(long side = the model's image size), centred, the rest padded grey. Unlike the search's
preprocessing, nothing is cropped away, so every part of the picture can be located; the
box of the picture inside the square maps heat-map cells back to picture pixels."""

from __future__ import annotations

from typing import NamedTuple

from PIL import Image

PAD = (124, 116, 104)  # about CLIP's mean colour: padding reads as nothing


class Letterbox(NamedTuple):  # (a tuple: made for every hit a search locates, and a dataclass costs 4x)
    width: int  # the picture's
    height: int
    side: int  # the model's square input
    scale: float  # model pixels per picture pixel
    left: float  # where the picture starts in the square
    top: float

    @classmethod
    def of(cls, width: int, height: int, side: int) -> "Letterbox":
        scale = side / max(width, height)
        return cls(width, height, side, scale, (side - width * scale) / 2, (side - height * scale) / 2)

    def apply(self, image: Image.Image) -> Image.Image:
        inner = image.convert("RGB").resize((max(1, round(self.width * self.scale)),
                                             max(1, round(self.height * self.scale))), Image.BICUBIC)
        square = Image.new("RGB", (self.side, self.side), PAD)
        square.paste(inner, (round(self.left), round(self.top)))
        return square

    def to_picture(self, x: float, y: float) -> tuple[float, float]:
        """A point of the square, in picture pixels (clipped to the picture)."""
        px = min(max((x - self.left) / self.scale, 0.0), self.width)
        py = min(max((y - self.top) / self.scale, 0.0), self.height)
        return px, py

    def picture_cells(self, grid_h: int, grid_w: int) -> tuple[slice, slice]:
        """The rows and columns of a grid over the square that the picture covers."""
        cell_h, cell_w = self.side / grid_h, self.side / grid_w
        rows = slice(int(self.top // cell_h), min(grid_h, int(-(-(self.side - self.top) // cell_h))))
        cols = slice(int(self.left // cell_w), min(grid_w, int(-(-(self.side - self.left) // cell_w))))
        return rows, cols
