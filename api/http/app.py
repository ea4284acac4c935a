"""The FastAPI application: factory, lifespan (open the collection, preload the model)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.http.body_limit import BodyLimit
from api.http.deps import ServiceState, read_access
from api.http.errors import install
from api.http.model_cache import CAPTIONER, ENCODER, RERANKER, ModelCache
from api.http.routes import captions, classify, collection, docs, duplicates, images, locate, search, texts, web
from api.http.security_headers import SecurityHeaders
from api.http.text_batcher import TextBatcher
from api.services import encoder_recipe, load_captioner_from, reranker_from
from api.settings import Settings, index_config
from indexer.collection import Collection, ModelMismatch
from indexer.texts import TextCollection
from retrieval.models import DEFAULT_MODEL

log = logging.getLogger(__name__)


def _models(state: ServiceState) -> ModelCache:
    """The service's models, each loaded on first use (the encoder at start unless lazy)."""
    settings = state.settings
    state.model_spec = settings.model or state.collection.model_spec or DEFAULT_MODEL

    def encoder():
        state.collection.check_model(state.model_spec)
        return encoder_recipe(settings, state.model_spec)()

    models = ModelCache(settings.model_idle_unload_s, keep_while=state.jobs.running)
    models.register(ENCODER, encoder, retry_after_error=False)  # a model that failed fails again
    models.register(CAPTIONER, lambda: load_captioner_from(settings))
    models.register(RERANKER, lambda: reranker_from(settings))
    return models


def create_app(settings: Settings, data_dir: str) -> FastAPI:
    """The app for one collection. The model is loaded at start-up (or on first use with
    lazy_load) and can be unloaded when unused (model_idle_unload_s)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        coll = Collection(data_dir, settings.database_url, index_config(settings))
        state = ServiceState(settings=settings, collection=coll, texts=TextCollection(coll))
        app.state.service = state
        state.models = _models(state)
        if not settings.lazy_load:
            try:
                await state.models.get(ENCODER)
            except (ModelMismatch, RuntimeError, ValueError, OSError):
                pass  # recorded: /v1/ready says why, searches answer 503
        state.batcher = TextBatcher(state.models.peek(ENCODER), settings.text_batch_window_ms,
                                    settings.text_batch_max)
        await state.batcher.start()
        state.models.start()
        try:
            yield
        finally:
            await state.models.stop()
            await state.batcher.stop()
            state.jobs.wait(timeout=5)
            coll.close()

    app = FastAPI(
        title="clipdex",
        version="1",
        summary="Search image folders by meaning: text->image, image->image, image->text, zero-shot labels.",
        lifespan=lifespan,
        docs_url=None,  # served offline by routes/docs.py
        redoc_url=None,
    )
    install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])

    # Uploads are checked against max_upload_bytes exactly; the body cap leaves room for
    # the multipart envelope and form fields around the file.
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 1_000_000)
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors and refusals too

    reads = [Depends(read_access(settings))]
    for module in (search, images, classify, duplicates, captions, locate):
        app.include_router(module.router, dependencies=reads)
    app.include_router(collection.reads, dependencies=reads)
    for module in (texts, collection, web, docs):  # texts and re-index require the key themselves
        app.include_router(module.router)
    return app
