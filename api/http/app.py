"""The FastAPI application: factory, lifespan (open the collection, preload the model)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.http.body_limit import BodyLimit
from api.http.deps import ServiceState, read_access
from api.http.errors import install
from api.http.model_holder import ModelHolder
from api.http.routes import captions, classify, collection, duplicates, images, search, texts, web
from api.http.text_batcher import TextBatcher
from api.services import encoder_recipe
from api.settings import Settings, index_config
from indexer.collection import Collection, ModelMismatch
from indexer.texts import TextCollection
from retrieval.models import DEFAULT_MODEL

log = logging.getLogger(__name__)


def _load_encoder(state: ServiceState) -> None:
    settings = state.settings
    spec = settings.model or state.collection.model_spec or DEFAULT_MODEL
    state.model_spec = spec
    try:
        state.collection.check_model(spec)
        state.encoder = encoder_recipe(settings, spec)()
        state.model_error = None
    except (ModelMismatch, RuntimeError, ValueError, OSError) as exc:
        state.model_error = str(exc)
        log.error("model %s not loaded: %s", spec, exc)


def create_app(settings: Settings, data_dir: str) -> FastAPI:
    """The app for one collection. The model is loaded at start-up (or on first use with
    lazy_load) and can be unloaded when unused (model_idle_unload_s)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        coll = Collection(data_dir, settings.database_url, index_config(settings))
        state = ServiceState(settings=settings, collection=coll, texts=TextCollection(coll))
        app.state.service = state
        state.models = ModelHolder(state, lambda: _load_encoder(state), settings.model_idle_unload_s)
        if settings.lazy_load:
            state.model_spec = settings.model or coll.model_spec or DEFAULT_MODEL
        else:
            await state.models.get()
        state.batcher = TextBatcher(state.encoder, settings.text_batch_window_ms, settings.text_batch_max)
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
    )
    install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])

    # Uploads are checked against max_upload_bytes exactly; the body cap leaves room for
    # the multipart envelope and form fields around the file.
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + 1_000_000)

    reads = [Depends(read_access(settings))]
    for module in (search, images, classify, duplicates, captions):
        app.include_router(module.router, dependencies=reads)
    app.include_router(collection.reads, dependencies=reads)
    for module in (texts, collection, web):  # texts and re-index require the key themselves
        app.include_router(module.router)
    return app
