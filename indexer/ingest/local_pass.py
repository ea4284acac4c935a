"""The embedding pass in this process: decode workers feed the model. Worker processes
(a torch DataLoader) for PyTorch, threads (decode.py) for an ONNX Runtime encoder,
which then runs without torch; on a GPU, JPEGs are decoded on the device (gpu_feed.py)."""

from __future__ import annotations

import logging

from indexer.collection import Collection
from indexer.ingest.decode import DecodeDataset, collate, thread_batches
from indexer.ingest.gpu_feed import prepared_batches
from indexer.ingest.options import DECODE_AUTO, DECODE_CPU, DECODE_MODES, IndexOptions, IndexReport, default_workers
from indexer.ingest.progress import Progress
from indexer.ingest.results import ResultWriter
from indexer.store import FileState

log = logging.getLogger(__name__)


def local_embed_pass(
    collection: Collection,
    index,
    encoder,
    items: list[tuple[int, str]],
    moved_by_hash: dict[str, list[FileState]],
    options: IndexOptions,
    report: IndexReport,
    progress: Progress,
) -> list[tuple[int, str]]:
    on_device = _device_preprocessor(encoder, options.decode, options.jpeg_decoder)
    workers = default_workers(on_device is not None) if options.num_workers is None else options.num_workers
    dataset = DecodeDataset(
        items,
        encoder.preprocess,
        frozenset(moved_by_hash),
        options.max_pixels,
        min_side=encoder.loaded.image_size,
        jpeg_to_device=on_device is not None,
    )
    batch_size = options.batch_size_for(encoder)
    if _decode_in_threads(encoder, on_device, options.decode_workers):
        batches = thread_batches(dataset, batch_size, max(workers, 1))
        prepared = ((batch, batch["pixels"], batch["decoded"]) for batch in batches)
    else:
        if len(items) < 2 * batch_size:
            workers = min(workers, 1)
        loader = _process_loader(dataset, encoder, on_device, workers, batch_size)
        prepared = prepared_batches(loader, on_device, encoder, options.max_pixels, options.decode_threads)
    results = ResultWriter(collection, index, moved_by_hash, options, report)
    try:
        for batch, pixels, decoded in prepared:
            vectors = encoder.embed_pixels(pixels) if pixels is not None else None
            progress.update(results.record(vectors, decoded, batch["moved"], batch["failed"]))
            if results.due():
                results.checkpoint()
    except KeyboardInterrupt:  # Ctrl-C: keep what was embedded, then stop; the rerun does the rest
        results.checkpoint()
        raise
    results.checkpoint()
    return results.again


def _decode_in_threads(encoder, on_device, decode_workers: str) -> bool:
    if decode_workers not in ("auto", "threads", "processes"):
        raise ValueError(f"decode_workers must be auto, threads or processes, not {decode_workers!r}")
    if on_device is not None:  # the GPU path decodes JPEGs on the device, fed by worker processes
        return False
    return decode_workers == "threads" or (decode_workers == "auto" and encoder.backend.startswith("onnx"))


def _process_loader(dataset: DecodeDataset, encoder, on_device, workers: int, batch_size: int):
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        prefetch_factor=4 if workers else None,
        # JPEG bytes go to the decoder from plain memory; only worker-decoded pixels gain by pinning.
        pin_memory=str(encoder.device).startswith("cuda") and on_device is None,
    )


def _device_preprocessor(encoder, decode: str, jpeg_decoder: str = "auto"):
    """The on-device JPEG preprocessor, or None to decode everything in the workers."""
    if decode not in DECODE_MODES:
        raise ValueError(f"decode must be auto, cpu or device, not {decode!r}")
    if decode == DECODE_CPU or (decode == DECODE_AUTO and not str(encoder.device).startswith("cuda")):
        return None
    if encoder.loaded.family != "open_clip":  # a transformers model's own image processor decides
        return None
    from retrieval.images.gpu_preprocess import TensorPreprocessor

    preprocessor = TensorPreprocessor.from_model(encoder.loaded.model, encoder.device, jpeg_decoder)
    if preprocessor is None:
        log.info("this model's image transform is not reproduced on the device; decoding on the CPU")
    return preprocessor
