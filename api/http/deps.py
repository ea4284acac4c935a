"""What the routes share: the service state (collection, encoder, batcher, jobs), access checks
and upload reading."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, UploadFile
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.http.errors import ApiError
from api.http.jobs import Jobs
from api.http.model_cache import ENCODER, ModelCache
from api.http.schemas import display_path
from api.http.text_batcher import TextBatcher
from api.settings import Settings
from indexer.collection import Collection
from indexer.collection.paths import shown_relative
from indexer.texts import TextCollection
from retrieval.encoders import Encoder
from retrieval.images.decode import DecodedImage, ImageError, decode_image

log = logging.getLogger(__name__)

API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's API key")
UPLOAD_TYPES = ("image/", "application/octet-stream")


@dataclass
class ServiceState:
    settings: Settings
    collection: Collection
    texts: TextCollection
    jobs: Jobs = field(default_factory=Jobs)
    models: ModelCache = field(default_factory=ModelCache)  # encoder, captioner, re-ranker
    model_spec: str | None = None
    batcher: TextBatcher | None = None


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


def _key_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_key(key: str | None = Depends(API_KEY_HEADER), state: ServiceState = Depends(get_state)) -> None:
    """For endpoints that change state: the API key is always required."""
    expected = state.settings.api_key
    if not expected:
        raise ApiError(403, "this endpoint changes state and is disabled: start the server with CLIPDEX_API_KEY set")
    if not key:
        raise ApiError(401, "missing API key: send it in the X-API-Key header")
    if not _key_matches(key, expected):
        raise ApiError(401, "wrong API key")


def _reads_with_key(key: str | None = Depends(API_KEY_HEADER), state: ServiceState = Depends(get_state)) -> None:
    if not key:
        raise ApiError(401, "missing API key: send it in the X-API-Key header")
    if not _key_matches(key, state.settings.api_key):
        raise ApiError(401, "wrong API key")


def _open_reads() -> None:
    return None


def read_access(settings: Settings):
    """The dependency guarding read endpoints. It declares the API key in the OpenAPI
    spec only when the server requires it for reads, so the spec tells the truth."""
    return _reads_with_key if (settings.require_key_for_reads and settings.api_key) else _open_reads


async def ready_encoder(state: ServiceState = Depends(get_state)):
    try:
        encoder = await state.models.get(ENCODER)
    except Exception:  # recorded: /v1/ready and this answer say why
        encoder = None
    if encoder is None:
        raise ApiError(503, f"the model is not loaded: {state.models.error(ENCODER) or 'still loading'}")
    return encoder


@dataclass
class PathView:
    """How this request sees file paths: in full, or as ROOT-NAME/RELATIVE (``roots`` set)."""

    roots: list[str] | None = None

    def show(self, path: str) -> str:
        return display_path(path if self.roots is None else shown_relative(path, self.roots))


def path_view(request: Request, state: ServiceState = Depends(get_state)) -> PathView:
    """Full paths for the API key's holder, and where no key is set (one user) or
    CLIPDEX_FULL_PATHS says so; otherwise paths relative to the indexed folders, so that
    readers do not learn the server's file system by walking the ids. (The header is read
    here, not declared: a read needs no key, the key only shows more.)"""
    settings = state.settings
    key = request.headers.get(API_KEY_HEADER.model.name)
    if settings.full_paths or not settings.api_key or _key_matches(key, settings.api_key):
        return PathView()
    return PathView(state.collection.store.roots())


# The dependencies routes declare, typed: ``state: State``, ``encoder: ReadyEncoder``, ``paths: Paths``.
State = Annotated[ServiceState, Depends(get_state)]
ReadyEncoder = Annotated[Encoder, Depends(ready_encoder)]
Paths = Annotated[PathView, Depends(path_view)]


async def read_upload(file: UploadFile, settings: Settings) -> DecodedImage:
    """Read and decode an uploaded image within the byte and pixel limits."""
    content_type = (file.content_type or "").lower()
    if content_type and not content_type.startswith(UPLOAD_TYPES):
        raise ApiError(415, f"upload an image (got content type {content_type!r})")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, f"upload larger than {settings.max_upload_bytes:,} bytes")
    if not data:
        raise ApiError(422, "the uploaded file is empty")
    try:
        return await run_in_threadpool(decode_image, data, settings.max_image_pixels)
    except ImageError as exc:
        status = 413 if "too large" in str(exc) else 422
        raise ApiError(status, f"{file.filename or 'upload'}: {exc}") from None
