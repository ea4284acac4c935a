"""Where things are in uploaded or indexed pictures: a phrase located (a box and a heat map),
or labels detected zero-shot; by the dual encoder's patch tokens or by the configured VLM."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.deps import ReadyEncoder, ServiceState, State
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.locating import DENSE, VLM, dense_locator_of, run_locator, vlm_locator_of
from api.http.pictures import FormId, check_count, indexed_rows, read_uploads
from api.http.schemas import LocatedItem, LocateResponse, RegionOut
from indexer.captions import read_images
from indexer.search import heat_rows
from retrieval.locate.methods import METHODS

DENSE_METHOD_HELP = ("how the dual encoder locates (default: the server's CLIPDEX_LOCATE_METHOD): value, qq, tokens "
                     "read its patch tokens, one pass a picture; windows shows it windows of the picture, 44 passes")
router = APIRouter(prefix="/v1", tags=["locate"], responses=ERROR_RESPONSES)
MAX_LABELS = 64


async def _pictures(state: ServiceState, files, ids) -> tuple[list, list[dict]]:
    """(pictures, an item per picture asked for: filename or id, and an error where unreadable)."""
    check_count(files, ids, "look in")
    pictures, items = [], []
    if files:
        images, uploaded = await read_uploads(files, state)
        pictures += images
        items += uploaded
    if ids:
        rows, missing = await run_in_threadpool(indexed_rows, state, ids)
        images, readable, errors = await run_in_threadpool(read_images, rows, state.settings.max_image_pixels)
        pictures += images
        read = {row["id"] for row in readable}
        items += [{"id": i} if i in read else {"id": i, "error": missing.get(i) or errors.get(i)} for i in ids]
    return pictures, items


def _answer(items: list[dict], pictures: list, found: list, heats: list | None) -> list[LocatedItem]:
    out, results = [], iter(zip(pictures, found, heats or [None] * len(found)))
    for item in items:
        if "error" in item:
            out.append(LocatedItem(**item))
            continue
        picture, regions, heat = next(results)
        out.append(LocatedItem(**item, width=picture.width, height=picture.height,
                               regions=[RegionOut(**r.as_dict()) for r in regions],
                               heatmap=heat_rows(heat) if heat is not None else None))
    return out


@router.post("/locate", response_model=LocateResponse, summary="Where a phrase is in uploaded or indexed images")
async def locate(
    state: State,
    encoder: ReadyEncoder,
    phrase: str = Form(min_length=1, max_length=500, description='what to find, e.g. "a red car"'),
    files: list[UploadFile] = File(None, description="images to look in"),
    ids: list[FormId] = Form(None, description="ids of indexed images to look in"),
    method: Literal["dense", "vlm"] = Form(DENSE, description="dense: the dual encoder itself (a box and a "
                                           "heat map); vlm: the configured VLM's grounding (CLIPDEX_CAPTIONER)"),
    dense_method: Literal[METHODS] | None = Form(None, description=DENSE_METHOD_HELP),
) -> LocateResponse:
    started = time.perf_counter()
    pictures, items = await _pictures(state, files, ids)
    if method == VLM:
        locator = await vlm_locator_of(state)
        found = await run_locator(locator.locate, pictures, phrase, vlm=True) if pictures else []
        heats = None
    else:
        locator = dense_locator_of(state.settings, encoder, dense_method)
        vector = await state.batcher.embed(phrase, encoder)
        located = await run_locator(locator.locate, pictures, vector, [phrase]) if pictures else []
        found, heats = [[p.region] for p in located], [p.heat for p in located]
    return LocateResponse(results=_answer(items, pictures, found, heats), method=locator.name,
                          took_ms=(time.perf_counter() - started) * 1000)


@router.post("/detect", response_model=LocateResponse, summary="Which of some labels are where, zero-shot")
async def detect(
    state: State,
    encoder: ReadyEncoder,
    labels: list[str] = Form(min_length=1, max_length=MAX_LABELS, description="what to detect"),
    files: list[UploadFile] = File(None, description="images to look in"),
    ids: list[FormId] = Form(None, description="ids of indexed images to look in"),
    method: Literal["dense", "vlm"] = Form(DENSE, description="dense: the dual encoder itself; vlm: the "
                                           "configured VLM (CLIPDEX_CAPTIONER)"),
    dense_method: Literal[METHODS] | None = Form(None, description=DENSE_METHOD_HELP),
) -> LocateResponse:
    started = time.perf_counter()
    labels = [label.strip() for label in labels if label.strip()]
    if not labels or any(len(label) > 200 for label in labels):
        raise ApiError(422, "labels must be 1 to 200 characters each")
    pictures, items = await _pictures(state, files, ids)
    if method == VLM:
        locator = await vlm_locator_of(state)
        found = await run_locator(locator.detect, pictures, labels, vlm=True) if pictures else []
    else:
        locator = dense_locator_of(state.settings, encoder, dense_method)
        vectors = await run_in_threadpool(encoder.embed_texts, labels)
        found = await run_locator(locator.detect, pictures, vectors, labels, encoder.logit_scale) if pictures else []
    return LocateResponse(results=_answer(items, pictures, found, None), method=locator.name,
                          took_ms=(time.perf_counter() - started) * 1000)
