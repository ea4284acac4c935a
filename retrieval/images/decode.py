"""Decoding untrusted image bytes into upright RGB pictures, or a clear error.

Every way a file can be bad (empty, truncated, not an image, a decompression bomb) ends
as an ``ImageError`` with a short reason, never as a crash of the caller.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from PIL import Image, ImageOps

try:  # HEIC/HEIF support is optional
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the install
    HEIF_SUPPORTED = False

DEFAULT_MAX_PIXELS = 100_000_000  # a 10k x 10k photo; bigger declared sizes are refused
# The declared size is checked against the caller's limit (_check_pixels) before anything is
# decoded; PIL's own, lower limit would refuse first and name its number, not the one in force.
Image.MAX_IMAGE_PIXELS = None
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME = 306


def content_hash(data: bytes) -> str:
    """The identity of a file's bytes (SHA-NI makes SHA-256 faster than blake2b)."""
    return hashlib.sha256(data).hexdigest()


class ImageError(ValueError):
    """The bytes are not a usable image; the message says why."""


@dataclass
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied
    width: int  # size of the stored picture, upright, before any draft reduction
    height: int
    taken_at: datetime | None


def _exif_date(img: Image.Image) -> datetime | None:
    try:
        exif = img.getexif()
    except Exception:
        return None
    raw = None
    try:
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    except Exception:
        pass
    raw = raw or exif.get(_DATETIME)
    if not raw:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    try:
        return datetime.strptime(str(raw).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _exif_orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:
        return 1


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB for any mode: 16-bit and float scaled (not clipped), alpha over white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if img.mode in ("I", "F") and arr.max() <= 255 and arr.min() >= 0:
            top = 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


@dataclass
class ImageHeader:
    format: str | None
    mode: str
    width: int  # upright
    height: int
    orientation: int
    taken_at: datetime | None


@contextmanager
def _image_errors(doing: str):
    """Turn whatever PIL raises on hostile bytes into an ``ImageError`` with a reason."""
    try:
        with warnings.catch_warnings():
            # The pixel limit is checked by _open; PIL's own warning would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large (possible decompression bomb): {exc}") from None
    except Image.UnidentifiedImageError:
        raise ImageError("not an image, or an image format that is not supported") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(f"cannot {doing}: {exc}") from None
    except Exception as exc:  # a decoder bug on hostile input must not kill the caller
        raise ImageError(f"cannot {doing} ({type(exc).__name__}): {exc}") from None


def _open(data: bytes, max_pixels: int) -> tuple[Image.Image, ImageHeader]:
    """Open lazily (header only) and check the declared size against the pixel limit."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    img = Image.open(io.BytesIO(data))
    width, height = img.size
    _check_pixels(width, height, max_pixels)
    orientation = _exif_orientation(img)
    if orientation in (5, 6, 7, 8):  # turned by 90 degrees: report the upright size
        width, height = height, width
    return img, ImageHeader(img.format, img.mode, width, height, orientation, _exif_date(img))


def probe_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageHeader:
    """Read only the header: format, mode, upright size, EXIF orientation and date.

    Raises ``ImageError`` for what can be told without decoding (empty, not an image,
    too many pixels).
    """
    with _image_errors("read image header"):
        return _open(data, max_pixels)[1]


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"image declares an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageError(
            f"image too large: {width}x{height} = {width * height:,} pixels "
            f"(limit {max_pixels:,}; possible decompression bomb)"
        )


def decode_image(
    data: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = None,
) -> DecodedImage:
    """Decode bytes into an upright RGB image.

    ``min_side``: when given, a JPEG much larger than needed is decoded at a reduced
    scale (libjpeg DCT scaling) that keeps both sides at least this large; the
    reported width and height are still those of the full picture.
    """
    with _image_errors("decode image"):
        img, header = _open(data, max_pixels)
        if min_side and img.format == "JPEG":
            img.draft("RGB", (min_side, min_side))
        img.load()
        img = ImageOps.exif_transpose(img) if header.orientation != 1 else img
        rgb = to_rgb(img)
    return DecodedImage(image=rgb, width=header.width, height=header.height, taken_at=header.taken_at)


def read_image_file(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Read and decode an image file; a file that cannot be read is an ``ImageError`` too."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImageError(f"cannot read the file: {exc.strerror or exc}") from None
    return decode_image(data, max_pixels=max_pixels)
