"""Image files for tests: ordinary photos-like pictures and every kind of bad input."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
from PIL import Image


def noise_image(seed: int, size=(160, 120), tint: int | None = None) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = (rng.random((size[1], size[0], 3)) * 255).astype("uint8")
    if tint is not None:
        arr[:, :, tint % 3] = 255
    return Image.fromarray(arr, "RGB")


def write_photos(folder: str, count: int, start: int = 0, ext: str = "jpg", size=(160, 120)) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = os.path.join(folder, f"photo_{i:04d}.{ext}")
        noise_image(i, size, tint=i).save(path)
        paths.append(path)
    return paths


def png_bomb_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a huge size (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    struct.pack_into(">I", data, ihdr + 17, crc)
    return bytes(data)


def truncated_jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    noise_image(7, (256, 256)).save(buf, "JPEG", quality=90)
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def rotated_pair(folder: str) -> tuple[str, str]:
    """The same picture stored upright, and stored sideways with an EXIF orientation tag."""
    upright = Image.new("RGB", (60, 120), (255, 0, 0))
    upright.paste((0, 0, 255), (0, 60, 60, 120))  # red top, blue bottom
    upright_path = os.path.join(folder, "upright.png")
    upright.save(upright_path)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a camera held sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # display needs a 90 degree clockwise turn
    sideways_path = os.path.join(folder, "sideways.png")
    stored.save(sideways_path, exif=exif.tobytes())
    return upright_path, sideways_path


BAD_FILES = {
    # name -> (bytes factory, words the recorded error must contain)
    "zero.jpg": (lambda: b"", "empty"),
    "truncated.jpg": (truncated_jpeg_bytes, "truncated"),
    "text.jpg": (lambda: b"this is not a picture\n" * 10, "not an image"),
    "bomb.png": (png_bomb_bytes, "too large"),
}


def write_bad_files(folder: str) -> dict[str, str]:
    os.makedirs(folder, exist_ok=True)
    expected = {}
    for name, (factory, words) in BAD_FILES.items():
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(factory())
        expected[path] = words
    return expected


def write_odd_but_valid(folder: str) -> list[str]:
    """Images in unusual modes and sizes that must all index fine."""
    os.makedirs(folder, exist_ok=True)
    base = noise_image(3, (64, 48))
    paths = {
        "one_pixel.png": Image.new("RGB", (1, 1), (10, 200, 30)),
        "cmyk.jpg": base.convert("CMYK"),
        "sixteen_bit.png": Image.fromarray((np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20)),
        "palette.gif": base.convert("P"),
        "alpha.png": base.convert("RGBA"),
        "gray.bmp": base.convert("L"),
        "photo.webp": base,
        "photo.tiff": base,
    }
    written = []
    for name, img in paths.items():
        path = os.path.join(folder, name)
        img.save(path)
        written.append(path)
    odd_names = [b"caf\xe9 latin1.jpg", "with  spaces and ünïcode.jpg".encode()]
    for raw in odd_names:
        path = os.path.join(os.fsencode(folder), raw)
        base.save(os.fsdecode(path), format="JPEG")
        written.append(os.fsdecode(path))
    return written
