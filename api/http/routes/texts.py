"""The text collection for image->text search: add and remove texts (API key required)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.http.deps import ReadyEncoder, State, require_key
from api.http.errors import ERROR_RESPONSES, ApiError
from api.http.schemas import PathId, TextsAddRequest, TextsAddResponse
from indexer.collection import ModelMismatch
from indexer.texts import MAX_TEXT_CHARS

router = APIRouter(prefix="/v1/texts", tags=["texts"], responses=ERROR_RESPONSES, dependencies=[Depends(require_key)])


@router.post("", response_model=TextsAddResponse, status_code=201, summary="Add texts to the text collection")
async def add_texts(
    state: State,
    encoder: ReadyEncoder,
    body: TextsAddRequest,
) -> TextsAddResponse:
    texts = [t.strip() for t in body.texts]
    if any(not t for t in texts):
        raise ApiError(422, "texts: must not be empty or blank")
    if any(len(t) > MAX_TEXT_CHARS for t in texts):
        raise ApiError(422, f"texts: each at most {MAX_TEXT_CHARS:,} characters")
    try:
        ids = await run_in_threadpool(state.texts.add, texts, encoder, body.source)
    except ModelMismatch as exc:
        raise ApiError(409, str(exc)) from None
    return TextsAddResponse(ids=ids)


@router.delete("/{text_id}", status_code=204, summary="Remove a text")
async def delete_text(state: State, text_id: PathId) -> None:
    removed = await run_in_threadpool(state.texts.remove, [text_id])
    if not removed:
        raise ApiError(404, f"no text with id {text_id}")
