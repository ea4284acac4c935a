"""Near-duplicate groups of the collection's images, found through the vector index."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.http.deps import Paths, State
from api.http.errors import ERROR_RESPONSES
from api.http.routes.search import image_hit
from api.http.schemas import DuplicateGroup, DuplicatesResponse

router = APIRouter(prefix="/v1", tags=["collection"], responses=ERROR_RESPONSES)


@router.get("/duplicates", response_model=DuplicatesResponse, summary="Groups of near-duplicate images")
async def duplicates(
    state: State,
    paths: Paths,
    threshold: float = Query(0.95, ge=0.0, le=1.0, description="cosine similarity that makes two images duplicates"),
    limit: int = Query(100, ge=1, le=10_000, description="groups to return, largest first"),
) -> DuplicatesResponse:
    groups = await run_in_threadpool(state.collection.duplicates, threshold)
    return DuplicatesResponse(
        threshold=threshold,
        total_groups=len(groups),
        groups=[DuplicateGroup(files=[image_hit(hit, paths) for hit in group]) for group in groups[:limit]],
    )
