"""What the CLI and the HTTP routes both build from Settings: the encoder, the index
options, an index run whose captions and text follow its files (and that reads the text
of new pictures), the captioner, the re-ranker.

Each is built here once, from Settings and the overrides a surface has (CLI flags), so the
two surfaces cannot drift apart.

The indexer is imported where an index run is built, not here: a `clipdex search` imports
this module, and SQLAlchemy (under indexer/) must not load before it has started opening
its text tower (api/cli/search.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from api.settings import Settings, onnx_cache_dir
from retrieval.encoders import EncoderRecipe

if TYPE_CHECKING:
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, IndexReport
    from indexer.ocr import OcrOptions, OcrReport
    from indexer.prepare_locating import PrepareReport


def encoder_recipe(settings: Settings, spec: str, backend: str | None = None, device: str | None = None,
                   batch_size: int | None = None, indexing: bool = False) -> EncoderRecipe:
    """The encoder of ``spec`` as Settings (and the given overrides) ask for it; call it to build.
    ``indexing``: it embeds a folder, so the backend auto first measures which precision
    embeds images fastest here, where that was not measured yet (precision_choice.py)."""
    return EncoderRecipe(spec=spec, backend=backend or settings.backend, device=device or settings.device,
                         batch_size=batch_size or settings.batch_size, weights_cache=settings.model_cache_dir,
                         onnx_cache=onnx_cache_dir(settings), measure_precision=indexing,
                         auto_precision=settings.auto_precision)


def index_options(settings: Settings, batch_size: int | None = None, workers: int | None = None,
                  progress: bool = True, on_progress: Callable[[int, int], None] | None = None) -> IndexOptions:
    from indexer.ingest import IndexOptions

    return IndexOptions(
        batch_size=batch_size or settings.batch_size,
        num_workers=workers if workers is not None else settings.num_workers,
        decode_workers=settings.decode_workers,
        max_pixels=settings.max_image_pixels,
        checkpoint_seconds=settings.checkpoint_seconds,
        progress=progress,
        on_progress=on_progress,
    )


@dataclass
class IndexRun:
    report: IndexReport
    captions_dropped: int  # caption texts of changed or removed files (`clipdex index-captions` redoes them)
    ocr: OcrReport | None  # the text read in new pictures, when the collection reads text
    located: PrepareReport | None = None  # new pictures prepared to show where, when the collection does

    def as_dict(self) -> dict:
        def without_failures(report) -> dict | None:
            return None if report is None else {k: v for k, v in report.__dict__.items() if k != "failures"}

        return {**self.report.__dict__, "captions_dropped": self.captions_dropped, "ocr": without_failures(self.ocr),
                "located": without_failures(self.located)}


def ocr_options(settings: Settings, workers: int | None = None, progress: bool = True,
                on_progress: Callable[[int, int], None] | None = None, ray=None) -> OcrOptions:
    from indexer.ocr import OcrOptions

    distributor = None
    if ray is not None:
        from indexer.ocr.ray_read import RayReader  # Ray is imported only on this path

        distributor = RayReader(ray)
    return OcrOptions(workers=workers, max_pixels=settings.max_image_pixels, progress=progress,
                      on_progress=on_progress, device=None if settings.device == "auto" else settings.device,
                      distributor=distributor)


def index_collection(collection: Collection, roots: list[str], spec: str, encoder_factory: Callable,
                     options: IndexOptions, ray=None, ocr: str | None = None,
                     text_options: OcrOptions | None = None, locate: bool | None = None) -> IndexRun:
    """An index run whose caption texts and read text follow the files, then the reading of
    the text of new pictures with ``ocr`` (else the engine the collection remembers, if any;
    loaded first, so a missing engine fails before the run); ``ray``: RayOptions to embed
    (and read) on a Ray cluster; ``locate``: prepare (True) or stop preparing (False) new
    pictures to show where, else as the collection remembers."""
    from indexer.captions import CaptionsFollowFiles
    from indexer.ingest import FileEventsToAll, index_folders
    from indexer.ocr import OcrFollowsFiles, OcrOptions, read_collection_texts, remembered_engine
    from retrieval.ocr import load_ocr_engine

    engine_spec = ocr or remembered_engine(collection)
    engine = load_ocr_engine(engine_spec, device=(text_options or OcrOptions()).device) if engine_spec else None
    captions, texts = CaptionsFollowFiles(collection), OcrFollowsFiles(collection)
    events = FileEventsToAll(captions, texts)
    if ray is not None:
        from indexer.ingest.ray_pass import index_folders_ray  # Ray is imported only on this path

        report = index_folders_ray(collection, roots, spec, encoder_factory, options, ray, events=events)
    else:
        report = index_folders(collection, roots, spec, encoder_factory, options, events=events)
    read = None
    if engine is not None and collection.embed_dim:  # (a first run that indexed nothing has nothing to read)
        read = read_collection_texts(collection, engine_spec, text_options, engine=engine)
    return IndexRun(report, captions.dropped, read, _prepare_locating(collection, encoder_factory, options, locate))


def _prepare_locating(collection: Collection, encoder_factory: Callable, options: IndexOptions,
                      locate: bool | None) -> PrepareReport | None:
    from indexer.prepare_locating import prepare_locating, prepares_locating, set_prepares_locating

    if locate is not None:
        set_prepares_locating(collection, locate)
    if not prepares_locating(collection) or not collection.embed_dim:
        return None
    return prepare_locating(collection, encoder_factory, options.max_pixels, options.progress)


def load_captioner_from(settings: Settings, spec: str | None = None, device: str | None = None):
    """The captioner ``spec`` (else Settings') names, on ``device`` (else Settings')."""
    from retrieval.captioning import load_captioner

    device = device or (None if settings.device == "auto" else settings.device)
    return load_captioner(spec or settings.captioner, device=device)


def reranker_from(settings: Settings, spec: str | None = None, device: str | None = None):
    from retrieval.cross_encoder import Reranker

    return Reranker(spec or settings.reranker, device=device or settings.device, cache_dir=settings.model_cache_dir)


def dense_locator(settings: Settings, encoder, method: str | None = None, collection: Collection | None = None):
    """Localisation by the search's own encoder by ``method`` (else windows where
    ``collection`` prepares them at index time, else Settings'): from its patch tokens (its
    torch model, whatever runs the search) or from windows of the picture (the encoder itself)."""
    from indexer.prepare_locating import prepares_locating
    from retrieval.locate import DenseLocator
    from retrieval.locate.methods import WINDOWS

    if method is None and collection is not None and prepares_locating(collection):
        method = WINDOWS
    device = str(encoder.device) if str(encoder.device).startswith(("cuda", "mps")) else "cpu"
    return DenseLocator(encoder, method or settings.locate_method, device=device)


def vlm_locator(captioner):
    from retrieval.locate.vlm import VlmLocator

    return VlmLocator(captioner)
