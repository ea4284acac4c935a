"""What static int8 quantization of the image tower is calibrated on: pictures of the
model's own kind, with the statistics of photos (smooth colour fields, edges, grain,
text-like strokes), put through the model's own preprocessing. Deterministic: the same
model always gets the same calibration, and so the same int8 tower."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

PICTURES = 64


def _picture(rng: random.Random, side: int) -> Image.Image:
    nprng = np.random.default_rng(rng.randrange(2**32))
    coarse = nprng.integers(0, 256, (rng.randrange(2, 9), rng.randrange(2, 9), 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((side, side), Image.BICUBIC)
    pen = ImageDraw.Draw(image)
    for _ in range(rng.randrange(0, 6)):
        x, y = rng.randrange(side), rng.randrange(side)
        w, h = rng.randrange(4, side // 2 + 5), rng.randrange(4, side // 2 + 5)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)((x, y, x + w, y + h), fill=colour)
    if rng.random() < 0.3:
        pen.text((rng.randrange(side // 2), rng.randrange(side // 2)), "OPEN 24h", fill=(0, 0, 0))
    grain = nprng.normal(0, rng.choice((0, 4, 12)), (side, side, 3))
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))


def calibration_pixels(preprocess, side: int, count: int = PICTURES, seed: int = 0) -> np.ndarray:
    """(count, C, H, W) float32: the model's own preprocessing of photo-like pictures."""
    rng = random.Random(f"calibration-{seed}")
    return np.stack([np.asarray(preprocess(_picture(rng, side * 2)), np.float32) for _ in range(count)])
