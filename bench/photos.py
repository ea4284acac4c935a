"""Photo-like JPEG folders for benchmarks: smooth colour fields with texture and noise,
so that JPEG files have realistic sizes and decode costs (unlike flat colours)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageFilter


def photo_like(seed: int, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    img = Image.fromarray(small, "RGB").resize((width, height), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.int16)
    arr = arr + rng.normal(0, 12, size=arr.shape).astype(np.int16)  # sensor-like grain
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img.filter(ImageFilter.DETAIL)


def _write(args) -> None:
    path, seed, width, height = args
    if not os.path.exists(path):
        photo_like(seed, width, height).save(path, "JPEG", quality=88)


def make_folder(folder: str, count: int, sizes=((640, 480),), workers: int | None = None) -> list[str]:
    """``count`` JPEGs in ``folder`` (kept between runs); sizes cycle through ``sizes``."""
    os.makedirs(folder, exist_ok=True)
    jobs = []
    for i in range(count):
        width, height = sizes[i % len(sizes)]
        jobs.append((os.path.join(folder, f"img_{i:06d}.jpg"), i, width, height))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write, jobs, chunksize=64))
    return [job[0] for job in jobs]
