"""What the CLI and the HTTP routes both build from Settings: the encoder, the index
options, an index run whose captions follow its files, the captioner, the re-ranker.

Each is built here once, from Settings and the overrides a surface has (CLI flags), so the
two surfaces cannot drift apart.
"""

from __future__ import annotations

from typing import Callable

from api.settings import Settings, onnx_cache_dir
from indexer.captions import CaptionsFollowFiles
from indexer.collection import Collection
from indexer.ingest import IndexOptions, IndexReport, index_folders
from retrieval.encoders import EncoderRecipe


def encoder_recipe(settings: Settings, spec: str, backend: str | None = None, device: str | None = None,
                   batch_size: int | None = None) -> EncoderRecipe:
    """The encoder of ``spec`` as Settings (and the given overrides) ask for it; call it to build."""
    return EncoderRecipe(spec=spec, backend=backend or settings.backend, device=device or settings.device,
                         batch_size=batch_size or settings.batch_size, weights_cache=settings.model_cache_dir,
                         onnx_cache=onnx_cache_dir(settings))


def index_options(settings: Settings, batch_size: int | None = None, workers: int | None = None,
                  progress: bool = True, on_progress: Callable[[int, int], None] | None = None) -> IndexOptions:
    return IndexOptions(
        batch_size=batch_size or settings.batch_size,
        num_workers=workers if workers is not None else settings.num_workers,
        max_pixels=settings.max_image_pixels,
        checkpoint_seconds=settings.checkpoint_seconds,
        progress=progress,
        on_progress=on_progress,
    )


def index_collection(collection: Collection, roots: list[str], spec: str, encoder_factory: Callable,
                     options: IndexOptions, ray=None) -> tuple[IndexReport, int]:
    """An index run whose caption texts follow the files; ``ray``: RayOptions to embed on a
    Ray cluster. Returns the report and how many captions of changed or removed files went."""
    captions = CaptionsFollowFiles(collection)
    if ray is not None:
        from indexer.ingest.ray_pass import index_folders_ray  # Ray is imported only on this path

        report = index_folders_ray(collection, roots, spec, encoder_factory, options, ray, events=captions)
    else:
        report = index_folders(collection, roots, spec, encoder_factory, options, events=captions)
    return report, captions.dropped


def load_captioner_from(settings: Settings, spec: str | None = None, device: str | None = None):
    """The captioner ``spec`` (else Settings') names, on ``device`` (else Settings')."""
    from retrieval.captioning import load_captioner

    device = device or (None if settings.device == "auto" else settings.device)
    return load_captioner(spec or settings.captioner, device=device)


def reranker_from(settings: Settings, spec: str | None = None, device: str | None = None):
    from retrieval.cross_encoder import Reranker

    return Reranker(spec or settings.reranker, device=device or settings.device, cache_dir=settings.model_cache_dir)
