"""What the DataLoader worker processes do: read a file, hash it, decode and preprocess it.

Runs outside the main process so that the model never waits on JPEG decoding. A file
whose hash belongs to a file that disappeared from the collection (a move or rename)
is not decoded at all: its vector is reused.
"""

from __future__ import annotations

from typing import Callable

from retrieval.images.decode import ImageError, content_hash, decode_image, probe_image

MOVED, DECODED, JPEG, FAILED = "moved", "decoded", "jpeg", "failed"
_DEVICE_MODES = ("RGB", "L")  # JPEG colour modes the GPU decoders turn into RGB like PIL does


def is_complete_jpeg(data: bytes) -> bool:
    """Starts with SOI and ends with EOI: a truncated file goes to the CPU decoder, which
    reports it, instead of being decoded into grey blocks on the device."""
    return data[:2] == b"\xff\xd8" and data.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9"


class DecodeDataset:
    """A map-style torch dataset over (file id, path) pairs.

    With ``jpeg_to_device``, complete RGB/grey JPEGs are passed on as raw bytes for the
    device to decode; everything else is decoded here on the CPU.
    """

    def __init__(
        self,
        items: list[tuple[int, str]],
        preprocess: Callable,
        moved_hashes: frozenset[str],
        max_pixels: int,
        min_side: int | None,
        jpeg_to_device: bool = False,
    ):
        self.jpeg_to_device = jpeg_to_device
        self.items = items
        self.preprocess = preprocess
        self.moved_hashes = moved_hashes
        self.max_pixels = max_pixels
        self.min_side = min_side

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, position: int) -> dict:
        file_id, path = self.items[position]
        item = {"id": file_id, "path": path}
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            return {**item, "kind": FAILED, "hash": None, "error": f"cannot read file: {exc.strerror or exc}"}
        digest = content_hash(data)
        item["hash"] = digest
        if digest in self.moved_hashes:
            return {**item, "kind": MOVED}
        if self.jpeg_to_device and is_complete_jpeg(data):
            try:
                header = probe_image(data, self.max_pixels)
            except ImageError as exc:
                return {**item, "kind": FAILED, "error": str(exc)}
            if header.format == "JPEG" and header.mode in _DEVICE_MODES:
                # Only the verdict travels back; the bytes are read again (from the page
                # cache) where they are decoded, which is cheaper than shipping them
                # between processes.
                return {
                    **item,
                    "kind": JPEG,
                    "orientation": header.orientation,
                    "width": header.width,
                    "height": header.height,
                    "taken_at": header.taken_at,
                }
        try:
            decoded = decode_image(data, max_pixels=self.max_pixels, min_side=self.min_side)
            pixels = self.preprocess(decoded.image)
        except ImageError as exc:
            return {**item, "kind": FAILED, "error": str(exc)}
        except Exception as exc:  # a transform failing on an odd image is still bad data
            return {**item, "kind": FAILED, "error": f"cannot preprocess image: {exc}"}
        return {
            **item,
            "kind": DECODED,
            "pixels": pixels,
            "width": decoded.width,
            "height": decoded.height,
            "taken_at": decoded.taken_at,
        }


def collate(items: list[dict]) -> dict:
    """Stack the decoded images of a batch; pass the rest through as lists."""
    import torch

    decoded = [item for item in items if item["kind"] == DECODED]
    pixels = torch.stack([torch.as_tensor(item.pop("pixels")) for item in decoded]) if decoded else None
    return {
        "pixels": pixels,
        "decoded": decoded,
        "jpegs": [item for item in items if item["kind"] == JPEG],
        "moved": [item for item in items if item["kind"] == MOVED],
        "failed": [item for item in items if item["kind"] == FAILED],
    }


def read_blobs(items: list[dict]) -> list[bytes | None]:
    """The bytes of JPEG items' files; None where a file can no longer be read."""
    blobs: list[bytes | None] = []
    for item in items:
        try:
            with open(item["path"], "rb") as handle:
                blobs.append(handle.read())
        except OSError:
            blobs.append(None)
    return blobs
