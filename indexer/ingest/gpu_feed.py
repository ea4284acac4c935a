"""Feeding the model on a GPU: JPEGs decoded and resized on the device, batches prepared by
threads on side streams while the model runs on its own."""

from __future__ import annotations

import sys

from indexer.ingest.decode import read_blobs
from retrieval.images.decode import ImageError, decode_image


def batch_pixels(batch: dict, on_device, encoder, max_pixels: int):
    """(pixels, items) of a batch: worker-decoded images plus JPEGs decoded on the device.

    A JPEG the device decoder refuses is handed to PIL, which either decodes it or
    names the error; the item then joins the batch's failures.
    """
    import numpy as np
    import torch

    from retrieval.images.gpu_preprocess import orient

    parts, items = [], []
    dtype = torch.float32 if encoder.amp_dtype is None else encoder.amp_dtype
    if batch["pixels"] is not None:
        parts.append(batch["pixels"])
        items.extend(batch["decoded"])
    if batch["jpegs"]:
        images, ok = [], []
        blobs = read_blobs(batch["jpegs"])
        readable = [blob for blob in blobs if blob is not None]
        decoded_iter = iter(on_device.decode(readable))
        for item, blob in zip(batch["jpegs"], blobs):
            if blob is None:
                batch["failed"].append({**item, "kind": "failed", "error": "cannot read file: it vanished"})
                continue
            image = next(decoded_iter)
            if image is None:
                try:
                    picture = decode_image(blob, max_pixels=max_pixels).image
                except ImageError as exc:
                    batch["failed"].append({**item, "kind": "failed", "error": str(exc)})
                    continue
                image = torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)  # upright already
            else:
                image = orient(image, item["orientation"])
            images.append(image)
            ok.append(item)
        if images:
            if parts:
                parts = [parts[0].to(encoder.device, dtype)]
            parts.append(on_device.batch(images, dtype=dtype))
            items.extend(ok)
    if not parts:
        return None, []
    return (parts[0] if len(parts) == 1 else torch.cat(parts)), items


_DONE = object()
_SWITCH_INTERVAL = 1e-4  # seconds; see prepared_batches


def prepared_batches(loader, on_device, encoder, max_pixels: int, threads: int = 4):
    """Yield (batch, pixels, items) for each loader batch, in no particular order.

    On CUDA, ``threads`` background threads take batches from the loader and prepare
    them (JPEG decode, resize, copy to the GPU), each on its own side stream, while the
    model runs on a stream of its own. Several threads because file reads, header parsing
    and (with torchvision's nvJPEG) Huffman decoding run on the CPU, and they, like torch
    ops, release the GIL while they run.
    """
    if not str(encoder.device).startswith("cuda"):
        for batch in loader:
            yield (batch, *batch_pixels(batch, on_device, encoder, max_pixels))
        return

    import queue
    import threading

    import torch

    ready: queue.Queue = queue.Queue(maxsize=2 * threads)
    stop = threading.Event()
    batches = iter(loader)
    take = threading.Lock()

    def produce() -> None:
        side = torch.cuda.Stream(device=encoder.device)
        try:
            with torch.cuda.stream(side):
                while not stop.is_set():
                    with take:
                        batch = next(batches, _DONE)
                    if batch is _DONE:
                        break
                    pixels, items = batch_pixels(batch, on_device, encoder, max_pixels)
                    if pixels is not None:
                        pixels = pixels.to(encoder.device, non_blocking=True)
                    done = torch.cuda.Event()
                    done.record(side)
                    ready.put((batch, pixels, items, done))
            ready.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    workers = [threading.Thread(target=produce, name=f"clipdex-prepare-{i}", daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    # The model runs on a stream of its own too: libraries that queue work on the
    # legacy default stream would otherwise wait for the model, and the model for them.
    model_stream = torch.cuda.Stream(device=encoder.device)
    # The preparing threads let go of the GIL and take it back many times per batch (file
    # reads, nvImageCodec per image); each time another thread holds it, the wait lasts up
    # to the switch interval, 5 ms by default. Shorter while indexing: +20% images/s for
    # the nvJPEG path in an A/B run on an H100.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL))
    finished = 0
    try:
        while finished < threads:
            got = ready.get()
            if got is _DONE:
                finished += 1
                continue
            if isinstance(got, BaseException):
                raise got
            batch, pixels, items, done = got
            with torch.cuda.stream(model_stream):
                if pixels is not None:
                    model_stream.wait_event(done)
                    pixels.record_stream(model_stream)  # a side stream's allocator must not reuse it early
                yield batch, pixels, items
    finally:
        sys.setswitchinterval(switch_interval)
        stop.set()
        while any(worker.is_alive() for worker in workers):  # unblock producers on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
