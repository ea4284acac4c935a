"""Text->image, image->image (upload or indexed id) and image->text search."""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.captioning import fill_hit_captions
from api.http.deps import Paths, PathView, ReadyEncoder, ServiceState, State, read_upload, ready_encoder
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.locating import fill_hit_regions
from api.http.model_cache import RERANKER
from api.http.schemas import (
    MAX_FILE_TYPES,
    MAX_K,
    MAX_OFFSET,
    Filters,
    ImageHit,
    ImageToTextRequest,
    IsoDateTime,
    PathId,
    RegionOut,
    SearchResponse,
    TextSearchRequest,
    TextSearchResponse,
    exif_date,
)
from indexer.collection import CollectionError, Hit, SearchFilters
from indexer.collection.paths import resolve_shown
from indexer.ocr import search_text_in_images
from indexer.search import hybrid_search, rerank_hits

router = APIRouter(prefix="/v1", tags=["search"], responses=ERROR_RESPONSES)


def image_hit(hit: Hit, paths: PathView) -> ImageHit:
    return ImageHit(
        id=hit.file_id,
        path=paths.show(hit.path),
        score=hit.score,
        width=hit.width,
        height=hit.height,
        date=exif_date(hit.taken_at),
        file_type=os.path.splitext(hit.path)[1].lower().lstrip("."),
        image_url=f"/v1/images/{hit.file_id}",
        thumbnail_url=f"/v1/images/{hit.file_id}/thumbnail",
        rerank_score=hit.rerank_score,
        hybrid_score=hit.hybrid_score,
        text_score=hit.text_score,
        regions=[RegionOut(**region.as_dict()) for region in hit.regions],
        heatmap=hit.heatmap,
    )


def _filters(filters: Filters | None, state) -> SearchFilters | None:
    if filters is None:
        return None
    date_from, date_to = _naive(filters.date_from), _naive(filters.date_to)
    if date_from and date_to and date_from > date_to:
        raise ApiError(422, "filters: date_from is after date_to")
    folder = filters.folder
    if folder and not os.path.isabs(folder):  # as a reader who sees ROOT-NAME/... paths writes it
        folder = resolve_shown(folder, state.collection.store.roots())
    return SearchFilters(folder, filters.file_types, date_from, date_to)


def _naive(moment: datetime | None) -> datetime | None:
    """EXIF dates carry no zone: compare wall-clock times."""
    return moment.replace(tzinfo=None) if moment is not None else None


async def _search_images(state, paths, vector, k, offset, min_score, filters, response: Response, timings: dict,
                         as_hits: bool = True):
    started = time.perf_counter()
    hits = await run_in_threadpool(
        lambda: state.collection.search(vector, k, offset, min_score, _filters(filters, state), timings)[0]
    )
    timings.setdefault("search", time.perf_counter() - started)
    response.headers["Server-Timing"] = ", ".join(f"{name};dur={seconds * 1000:.2f}" for name, seconds in timings.items())
    return [image_hit(h, paths) for h in hits] if as_hits else hits


@router.post("/search/text", response_model=SearchResponse, summary="Find images that match a text")
async def search_text(
    state: State,
    paths: Paths,
    encoder: ReadyEncoder,
    body: TextSearchRequest,
    response: Response,
) -> SearchResponse:
    started = time.perf_counter()
    if body.locate and body.query is None:
        raise ApiError(422, "locate shows where the query is in each hit: give a query")
    if body.text_in_image is not None:
        hits = await _search_text_in_images(state, paths, encoder, body)
        return await _answered(state, encoder, body, hits, started)
    reranker = await _reranker(state) if body.rerank else None
    vector = await state.batcher.embed(body.query, encoder)
    timings = {"encode": time.perf_counter() - started}
    if body.hybrid:
        if reranker is not None:
            raise ApiError(422, "choose one of rerank and hybrid")
        try:
            found = await run_in_threadpool(hybrid_search, state.collection, state.texts, vector, body.k,
                                            body.offset, body.caption_weight, _filters(body.filters, state), body.min_score)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        hits = [image_hit(h, paths) for h in found]
    elif reranker is None:
        hits = await _search_images(state, paths, vector, body.k, body.offset, body.min_score, body.filters, response, timings)
    else:  # re-score the first rerank_depth hits (the cost is bounded), then page through
        depth = state.settings.rerank_depth
        shortlist = await _search_images(state, paths, vector, max(depth, body.k + body.offset), 0, body.min_score,
                                         body.filters, response, timings, as_hits=False)
        reranked = await run_in_threadpool(rerank_hits, reranker, body.query, shortlist[:depth],
                                           state.settings.max_image_pixels)
        hits = [image_hit(h, paths) for h in (reranked + shortlist[depth:])[body.offset:body.offset + body.k]]
    return await _answered(state, encoder, body, hits, started, vector)


async def _answered(state: ServiceState, encoder, body: TextSearchRequest, hits: list[ImageHit], started: float,
                    vector=None) -> SearchResponse:
    """The hits, located and captioned as asked."""
    if body.locate and hits:
        vector = vector if vector is not None else await state.batcher.embed(body.query, encoder)
        await fill_hit_regions(state, encoder, hits, vector, body.query)
    captioner = await fill_hit_captions(state, hits, body.caption_prompt) if body.caption and hits else None
    return SearchResponse(hits=hits, k=body.k, offset=body.offset, took_ms=(time.perf_counter() - started) * 1000,
                          captioner=captioner)


async def _search_text_in_images(state: ServiceState, paths: PathView, encoder, body: TextSearchRequest) -> list[ImageHit]:
    if body.rerank or body.hybrid:
        raise ApiError(422, "text_in_image goes alone or with a query; not with rerank or hybrid")
    vector = await state.batcher.embed(body.query, encoder) if body.query else None
    try:
        found = await run_in_threadpool(search_text_in_images, state.collection, body.text_in_image, body.k,
                                        body.offset, _filters(body.filters, state), vector, body.min_score)
    except CollectionError as exc:
        raise ApiError(409, str(exc), code="conflict") from None
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return [image_hit(h, paths) for h in found]


async def _reranker(state: ServiceState):
    if not state.settings.reranker:
        raise ApiError(400, "re-ranking is not configured: set CLIPDEX_RERANKER to a ViLT or BLIP ITM model")
    try:
        return await state.models.get(RERANKER)
    except (RuntimeError, ValueError, OSError, ImportError) as exc:
        raise ApiError(503, f"the re-ranker could not be loaded: {exc}", code="unavailable") from None


def _form_filters(folder, file_types, date_from, date_to) -> Filters | None:
    if not (folder or file_types or date_from or date_to):
        return None
    return Filters(folder=folder, file_types=file_types, date_from=date_from, date_to=date_to)


@router.post("/search/image", response_model=SearchResponse, summary="Find images similar to an uploaded one")
async def search_by_upload(
    state: State,
    paths: Paths,
    encoder: ReadyEncoder,
    response: Response,
    file: UploadFile = File(description="the query image"),
    k: int = Form(10, ge=1, le=MAX_K),
    offset: int = Form(0, ge=0, le=MAX_OFFSET),
    min_score: float = Form(None, ge=-1.0, le=1.0),
    folder: str = Form(None, max_length=4096),
    file_types: list[str] = Form(None, max_length=MAX_FILE_TYPES),
    date_from: Annotated[IsoDateTime, Form()] = None,
    date_to: Annotated[IsoDateTime, Form()] = None,
    caption: bool = Form(False, description="caption the returned hits"),
    locate: bool = Form(False, description="show where in each hit what looks most like the uploaded image is"),
) -> SearchResponse:
    started = time.perf_counter()
    decoded = await read_upload(file, state.settings)
    vector = await run_in_threadpool(encoder.embed_images, [decoded.image])
    timings = {"encode": time.perf_counter() - started}
    filters = _form_filters(folder, file_types, date_from, date_to)
    hits = await _search_images(state, paths, vector[0], k, offset, min_score, filters, response, timings)
    if locate and hits:
        await fill_hit_regions(state, encoder, hits, vector[0], "like the query image")
    captioner = await fill_hit_captions(state, hits, None) if caption and hits else None
    return SearchResponse(hits=hits, k=k, offset=offset, took_ms=(time.perf_counter() - started) * 1000,
                          captioner=captioner)


def _indexed_vector(state: ServiceState, image_id: int) -> np.ndarray:
    vector = state.collection.vector_of_file(image_id)
    if vector is None:
        raise ApiError(404, f"no indexed image with id {image_id}")
    return vector


@router.get("/images/{image_id}/similar", response_model=SearchResponse, summary="Images similar to an indexed one")
async def similar_to_indexed(
    state: State,
    paths: Paths,
    response: Response,
    image_id: PathId,
    k: int = Query(10, ge=1, le=MAX_K),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    min_score: float = Query(None, ge=-1.0, le=1.0),
    folder: str = Query(None, max_length=4096),
    file_types: list[str] = Query(None, max_length=MAX_FILE_TYPES),
    date_from: Annotated[IsoDateTime, Query()] = None,
    date_to: Annotated[IsoDateTime, Query()] = None,
    caption: bool = Query(False, description="caption the returned hits"),
    locate: bool = Query(False, description="show where in each hit what looks most like the image is"),
) -> SearchResponse:
    started = time.perf_counter()
    vector = await run_in_threadpool(_indexed_vector, state, image_id)
    filters = _form_filters(folder, file_types, date_from, date_to)
    hits = await _search_images(state, paths, vector, k, offset, min_score, filters, response, {})
    if locate and hits:
        await fill_hit_regions(state, await ready_encoder(state), hits, vector, "like the query image")
    captioner = await fill_hit_captions(state, hits, None) if caption and hits else None
    return SearchResponse(hits=hits, k=k, offset=offset, took_ms=(time.perf_counter() - started) * 1000,
                          captioner=captioner)


async def _search_texts(state: ServiceState, vector, k: int, offset: int, min_score, started) -> TextSearchResponse:
    hits = await run_in_threadpool(state.texts.search, vector, k, offset)
    if min_score is not None:
        hits = [h for h in hits if h["score"] >= min_score]
    return TextSearchResponse(hits=hits, k=k, offset=offset, took_ms=(time.perf_counter() - started) * 1000)


@router.post("/search/texts", response_model=TextSearchResponse, summary="Texts that describe an indexed image")
async def texts_for_indexed(state: State, body: ImageToTextRequest) -> TextSearchResponse:
    started = time.perf_counter()
    vector = await run_in_threadpool(_indexed_vector, state, body.image_id)
    return await _search_texts(state, vector, body.k, body.offset, body.min_score, started)


@router.post("/search/texts/upload", response_model=TextSearchResponse, summary="Texts that describe an uploaded image")
async def texts_for_upload(
    state: State,
    encoder: ReadyEncoder,
    file: UploadFile = File(description="the image"),
    k: int = Form(10, ge=1, le=MAX_K),
    offset: int = Form(0, ge=0, le=MAX_OFFSET),
    min_score: float = Form(None, ge=-1.0, le=1.0),
) -> TextSearchResponse:
    started = time.perf_counter()
    decoded = await read_upload(file, state.settings)
    vector = await run_in_threadpool(encoder.embed_images, [decoded.image])
    return await _search_texts(state, vector[0], k, offset, min_score, started)
