"""Fashion-MNIST from Debian's dataset-fashion-mnist package, with templated captions."""

from __future__ import annotations

import gzip
import os
import random
import struct

import numpy as np
from PIL import Image

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
CAPTION_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "a {}.", "an image of a {}.", "a product photo of a {}.")


class DatasetMissing(FileNotFoundError):
    pass


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    magic, count = struct.unpack_from(">II", data)
    if magic == 2049:  # labels
        return np.frombuffer(data, np.uint8, count, offset=8)
    if magic == 2051:  # images
        rows, cols = struct.unpack_from(">II", data, 8)
        return np.frombuffer(data, np.uint8, count * rows * cols, offset=16).reshape(count, rows, cols)
    raise ValueError(f"{path} is not an IDX file (magic {magic})")


def load_split(split: str = "train", folder: str = DEFAULT_DIR, limit: int | None = None):
    """(images as PIL RGB, captions, class indices) of "train" or "test"."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images_path = os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")
    if not os.path.exists(images_path):
        raise DatasetMissing(
            f"Fashion-MNIST not found in {folder}: install Debian's dataset-fashion-mnist package "
            f"(apt-get install dataset-fashion-mnist)"
        )
    pixels = _read_idx(images_path)
    labels = _read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit:
        pixels, labels = pixels[:limit], labels[:limit]
    rng = random.Random(f"fashion-{split}")
    images = [Image.fromarray(p, "L").convert("RGB") for p in pixels]
    captions = [rng.choice(CAPTION_TEMPLATES).format(CLASSES[int(label)]) for label in labels]
    return images, captions, [int(label) for label in labels]
