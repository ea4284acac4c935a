"""Small JPEG previews of indexed images, made on first request and kept in the data dir."""

from __future__ import annotations

import io
import os

from retrieval.atomic_io import atomic_write_bytes
from retrieval.images.decode import decode_image

THUMBNAIL_SIDE = 256


def thumbnail_path(data_dir: str, file_id: int, mtime_ns: int) -> str:
    # The mtime is in the name: a changed file gets a new thumbnail.
    return os.path.join(data_dir, "thumbnails", f"{file_id}-{mtime_ns}.jpg")


def make_thumbnail(source: str, dest: str, max_pixels: int, side: int = THUMBNAIL_SIDE) -> str:
    """Write (once) an upright JPEG no larger than side x side; return its path."""
    if os.path.exists(dest):
        return dest
    with open(source, "rb") as handle:
        decoded = decode_image(handle.read(), max_pixels=max_pixels, min_side=side)
    image = decoded.image
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    atomic_write_bytes(dest, buffer.getvalue())
    return dest
