"""A region of a picture: a box (and, for rotated text, its four corners), a label, a score
and the method that found it. OCR lines, dense localisation and VLM grounding all return
these, in the upright pixel coordinates of the original picture (EXIF orientation applied)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


class RegionParseError(ValueError):
    """A model's output does not hold the regions its format promises; the message says why."""


@dataclass(frozen=True)
class Region:
    box: Box
    label: str = ""
    score: float | None = None
    method: str = ""
    # The four corners (clockwise from top left of the text) of a rotated text line.
    quad: tuple[tuple[float, float], ...] | None = None

    def as_dict(self) -> dict:
        out = {"box": [round(v, 1) for v in self.box], "label": self.label, "score": self.score,
               "method": self.method}
        if self.quad is not None:
            out["quad"] = [[round(x, 1), round(y, 1)] for x, y in self.quad]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Region":
        quad = data.get("quad")
        return cls(box=tuple(float(v) for v in data["box"]), label=data.get("label", ""), score=data.get("score"),
                   method=data.get("method", ""), quad=tuple((float(x), float(y)) for x, y in quad) if quad else None)


def clipped(box: Sequence[float], width: int, height: int) -> Box:
    """A box inside a ``width`` x ``height`` picture, corners in order."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((min(max(x0, 0.0), width), min(max(x1, 0.0), width)))
    y0, y1 = sorted((min(max(y0, 0.0), height), min(max(y1, 0.0), height)))
    return (x0, y0, x1, y1)


def box_of_points(points: Sequence[Sequence[float]]) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
