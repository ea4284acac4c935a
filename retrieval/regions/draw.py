"""Pictures with their regions drawn on: boxes (or text quadrilaterals) with labels, and a
heat map laid over the picture."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from retrieval.regions.region import Region

COLOURS = ((230, 40, 40), (30, 140, 255), (40, 180, 60), (250, 170, 0), (170, 60, 200))


def draw_regions(image: Image.Image, regions: Sequence[Region]) -> Image.Image:
    """A copy of ``image`` with each region's outline and label."""
    out = image.convert("RGB").copy()
    pen = ImageDraw.Draw(out)
    width = max(2, round(min(out.size) / 200))
    for number, region in enumerate(regions):
        colour = COLOURS[number % len(COLOURS)]
        if region.quad is not None:
            pen.polygon([tuple(p) for p in region.quad], outline=colour, width=width)
        else:
            pen.rectangle(region.box, outline=colour, width=width)
        label = region.label if region.score is None else f"{region.label} {region.score:.2f}"
        if label:
            x, y = region.box[0], max(0.0, region.box[1] - 12)
            left, top, right, bottom = pen.textbbox((x, y), label)
            pen.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=colour)
            pen.text((x, y), label, fill=(255, 255, 255))
    return out


def overlay_heatmap(image: Image.Image, heat: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """``image`` with ``heat`` (any shape, values 0..1) stretched over it in red."""
    heat = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    mask = Image.fromarray((heat * 255).astype(np.uint8), "L").resize(image.size, Image.BILINEAR)
    red = Image.new("RGB", image.size, (255, 0, 0))
    weights = Image.fromarray((np.asarray(mask, dtype=np.float32) * alpha).astype(np.uint8), "L")
    return Image.composite(red, image.convert("RGB"), weights)
