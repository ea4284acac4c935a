"""Captions of uploads or indexed images, and answers to questions about them."""

from __future__ import annotations

import time

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.http.captioning import get_captioner, run_captioner
from api.http.deps import Paths, State, ready_encoder
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.pictures import FormId, check_count, indexed_rows, read_uploads
from api.http.schemas import AnswerItem, AnswerResponse, CaptionItem, CaptionResponse
from indexer.captions import caption_rows, read_images
from retrieval.captioning import MAX_PROMPT_CHARS

router = APIRouter(prefix="/v1", tags=["captions"], responses=ERROR_RESPONSES)


@router.post("/caption", response_model=CaptionResponse, summary="Caption uploaded or indexed images")
async def caption(
    state: State,
    files: list[UploadFile] = File(None, description="images to caption"),
    ids: list[FormId] = Form(None, description="ids of indexed images to caption"),
    prompt: str = Form(None, max_length=MAX_PROMPT_CHARS, description="how captions should begin, or a task token"),
) -> CaptionResponse:
    started = time.perf_counter()
    check_count(files, ids, "caption")
    captioner = await get_captioner(state)
    out: list[CaptionItem] = []
    if files:
        images, items = await read_uploads(files, state)
        texts = iter(await run_captioner(captioner.caption, images, prompt) if images else [])
        out += [CaptionItem(filename=i["filename"], caption=None, status="failed", error=i["error"]) if "error" in i
                else CaptionItem(filename=i["filename"], caption=next(texts), status="new") for i in items]
    if ids:
        rows, missing = await run_in_threadpool(indexed_rows, state, ids)
        results = await run_captioner(caption_rows, state.collection.store, captioner, rows, prompt, None,
                                      state.settings.max_image_pixels)
        for image_id in ids:
            result = results.get(image_id)
            if result is None or result.error:
                error = missing.get(image_id) or result.error
                out.append(CaptionItem(id=image_id, caption=None, status="failed", error=error))
            else:
                out.append(CaptionItem(id=image_id, caption=result.caption,
                                       status="cached" if result.cached else "new"))
    return CaptionResponse(captions=out, captioner=captioner.name, took_ms=(time.perf_counter() - started) * 1000)


@router.post("/answer", response_model=AnswerResponse, summary="Answer a question about images")
async def answer(
    state: State,
    paths: Paths,
    question: str = Form(min_length=1, max_length=MAX_PROMPT_CHARS, description="the question"),
    file: UploadFile = File(None, description="an image to ask about"),
    ids: list[FormId] = Form(None, description="ids of indexed images to ask about"),
    query: str = Form(None, min_length=1, max_length=2000, description="ask about the top hits of this text search"),
    k: int = Form(3, ge=1, le=10, description="how many top hits of the query"),
) -> AnswerResponse:
    started = time.perf_counter()
    if sum(x is not None for x in (file, ids, query)) != 1:
        raise ApiError(422, "ask about exactly one of: an uploaded file, ids of indexed images, or a query")
    captioner = await get_captioner(state)
    if not captioner.supports_answer:
        raise ApiError(400, f"{captioner.name} does not answer questions; {captioner.answer_hint} "
                       "(CLIPDEX_CAPTIONER)")
    answers: list[AnswerItem] = []
    if file is not None:
        images, items = await read_uploads([file], state)
        if not images:
            raise ApiError(422, items[0]["error"])
        text = (await run_captioner(captioner.answer, images, question))[0]
        answers.append(AnswerItem(filename=file.filename, answer=text))
    else:
        scores = {}
        if query is not None:
            encoder = await ready_encoder(state)
            vector = await state.batcher.embed(query, encoder)
            hits = (await run_in_threadpool(state.collection.search, vector, k))[0]
            ids, scores = [h.file_id for h in hits], {h.file_id: h.score for h in hits}
            if not ids:
                raise ApiError(404, "the query found no indexed images to ask about")
        check_count(None, ids, "ask about")
        rows, missing = await run_in_threadpool(indexed_rows, state, ids)
        images, readable, errors = await run_in_threadpool(read_images, rows, state.settings.max_image_pixels)
        texts = dict(zip([r["id"] for r in readable],
                         await run_captioner(captioner.answer, images, question) if images else []))
        shown = {r["id"]: paths.show(r["path"]) for r in rows}
        for image_id in ids:
            answers.append(AnswerItem(id=image_id, path=shown.get(image_id), score=scores.get(image_id),
                                      answer=texts.get(image_id), error=missing.get(image_id) or errors.get(image_id)))
    return AnswerResponse(question=question, answers=answers, captioner=captioner.name,
                          took_ms=(time.perf_counter() - started) * 1000)
