"""What the decode workers do: read a file, hash it, decode and preprocess it.

Runs beside the model so that it never waits on JPEG decoding: in the worker processes
of a torch DataLoader for PyTorch, or in threads of this process (`thread_batches`) for
an encoder without torch (ONNX Runtime). Reading, hashing and PIL's decoding and resizing
release the GIL, so threads decode side by side with no process to start, no second
import of torch, no pixels copied between processes. A file whose hash belongs to a file
that disappeared from the collection (a move or rename) is not decoded at all: its
vector is reused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

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
    """Stack the decoded images of a batch (numpy arrays stay numpy, tensors torch); pass
    the rest through as lists."""
    decoded = [item for item in items if item["kind"] == DECODED]
    pixels = [item.pop("pixels") for item in decoded]
    if not pixels:
        pixels = None
    elif isinstance(pixels[0], np.ndarray):  # the numpy transform of an ONNX encoder
        pixels = np.stack(pixels)
    else:
        import torch

        pixels = torch.stack(pixels)
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


def thread_batches(dataset: DecodeDataset, batch_size: int, threads: int, batches_ahead: int = 2) -> Iterator[dict]:
    """The dataset's items in order, ``batch_size`` at a time, collated as the DataLoader's
    are; at most ``batches_ahead`` batches beyond the current one are decoded ahead, so
    memory does not grow with the folder."""
    positions = iter(range(len(dataset)))
    pending: deque = deque()
    pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="clipdex-decode")

    def top_up() -> None:
        while len(pending) < (batches_ahead + 1) * batch_size:
            position = next(positions, None)
            if position is None:
                return
            pending.append(pool.submit(dataset.__getitem__, position))

    try:
        top_up()
        while pending:
            items = [pending.popleft().result() for _ in range(min(batch_size, len(pending)))]
            top_up()
            yield collate(items)
    finally:  # stopped early (Ctrl-C, an error): drop what has not started, wait for nothing
        pool.shutdown(wait=False, cancel_futures=True)
