"""clipdex's one configuration object: environment variables prefixed CLIPDEX_, CLI flags override."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.captioning import DEFAULT_CAPTIONER
from retrieval.encoders.backend import AUTO_PRECISIONS, BACKENDS
from retrieval.images.decode import DEFAULT_MAX_PIXELS
from retrieval.index.plan import KINDS as INDEX_KINDS
from retrieval.index.plan import IndexConfig
from retrieval.locate.methods import DEFAULT_METHOD as DEFAULT_LOCATE_METHOD
from retrieval.locate.methods import METHODS as LOCATE_METHODS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPDEX_", extra="ignore")

    data_dir: str | None = Field(None, description="collection data dir; default FOLDER/.clipdex")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the data dir")
    model: str | None = Field(None, description="model spec; default: the collection's, else ViT-B-32/laion2b_s34b_b79k")
    model_cache_dir: str | None = Field(None, description="Hugging Face cache dir for weights")
    onnx_cache: str | None = Field(None, description="where exported ONNX towers are kept; default "
                                   "~/.cache/clipdex/onnx (a model folder keeps its own in DIR/onnx)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), or a torch device")
    backend: Literal[BACKENDS] = Field(
        "auto", description="inference backend; auto: ONNX Runtime on a CPU when installed, else PyTorch")
    auto_precision: Literal[AUTO_PRECISIONS] = Field(
        "measured", description="auto's image tower on ONNX Runtime: measured (int8 where the first index run "
        "measured it clearly faster than fp32 on this machine, else fp32), or always fp32 or int8")
    batch_size: int | None = Field(None, ge=1, le=4096,
                                   description="images a batch; default 16 on ONNX Runtime, 64 on PyTorch")
    num_workers: int | None = Field(None, ge=0, le=64, description="decode workers; default from cores")
    decode_workers: Literal["auto", "threads", "processes"] = Field(
        "auto", description="decode in threads (auto: for ONNX Runtime, which then needs no torch) or processes")
    max_image_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)
    checkpoint_seconds: float = Field(30.0, ge=0)

    # Re-ranking of text searches by a cross-encoder (ViLT or BLIP ITM), off when unset
    reranker: str | None = Field(None, description="transformers:ORG/NAME or a local dir of a ViLT/BLIP ITM model")
    rerank_depth: int = Field(30, ge=1, le=200, description="hits the re-ranker re-scores")

    # Captions of search results and answers about them (loaded on first use)
    captioner: str = Field(DEFAULT_CAPTIONER, description="transformers:ORG/NAME, coca:ARCH/TAG or a folder "
                           "`clipdex train-captioner` wrote")
    caption_budget_s: float = Field(10.0, ge=0, description="how long a search may spend captioning new hits")

    # Showing where in a picture (search hits located, `clipdex locate`, /v1/locate)
    locate_method: Literal[LOCATE_METHODS] = Field(
        DEFAULT_LOCATE_METHOD, description="value: the patch tokens, one pass a picture; windows: windows of the "
        "picture shown one at a time, 44 passes a picture, points right far more often (bench/locate.py)")

    # Text in pictures (OCR): the engine `clipdex index` reads new pictures with (a collection
    # remembers the one it was indexed with)
    ocr: str | None = Field(None, description="rapidocr, rapidocr:full, tesseract[:LANGS] or transformers:ORG/NAME "
                            "(Florence-2, PaliGemma, Qwen-VL)")
    ocr_workers: int | None = Field(None, ge=0, le=64, description="OCR worker processes; default one per core")

    # Vector index (None: what the collection has, else chosen by size)
    index_type: Literal[INDEX_KINDS] | None = Field(
        None, description="auto (by collection size), flat, ivf or ivfpq; remembered by the collection")
    index_memory_mb: int | None = Field(None, ge=1, description="memory budget for the index (default 2048)")
    index_shards: int | None = Field(None, ge=1, le=256, description="index shards (default 1)")
    nprobe: int | None = Field(None, ge=1, description="IVF lists searched per query (default from the size)")
    search_device: str = Field("auto", description="auto: exact search on a CUDA GPU when there is one and the vectors "
                               "fit in its memory, else FAISS on the CPU; cpu; or a torch device such as cuda:1")

    # HTTP service
    lazy_load: bool = Field(False, description="load the model on the first request instead of at start")
    model_idle_unload_s: float = Field(0.0, ge=0, description="unload the model after this long unused (0: never)")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: str | None = Field(None, description="required for every endpoint that changes state")
    require_key_for_reads: bool = Field(False, description="also require the API key for searches")
    full_paths: bool = Field(False, description="full file paths for readers without the API key too (by "
                             "default they see paths relative to the indexed folders when a key is set)")
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins; none: CORS off")
    max_upload_bytes: int = Field(20_000_000, ge=1)
    text_batch_window_ms: float = Field(3.0, ge=0, description="how long a text query waits for company")
    text_batch_max: int = Field(64, ge=1)


def user_cache_dir(*parts: str) -> str:
    """clipdex's folder in the user's cache ($XDG_CACHE_HOME/clipdex, else ~/.cache/clipdex)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache, "clipdex", *parts)


def onnx_cache_dir(settings: Settings) -> str:
    return settings.onnx_cache or user_cache_dir("onnx")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def index_config(settings: Settings, **overrides) -> IndexConfig:
    """The index settings, with non-None ``overrides`` (CLI flags) winning."""
    values = {"kind": settings.index_type, "memory_mb": settings.index_memory_mb,
              "shards": settings.index_shards, "nprobe": settings.nprobe, "search_device": settings.search_device}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return IndexConfig(**values)
