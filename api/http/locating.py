"""Where things are, for the routes: the dense locator of the service's encoder (its own
patch tokens) or the configured VLM's grounding, run off the event loop, its failures as
API errors; and search hits given their boxes and heat maps."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from api.http.captioning import get_captioner, run_captioner
from api.http.errors import ApiError
from api.http.schemas import ImageHit, RegionOut
from api.services import dense_locator, vlm_locator
from indexer.collection import Hit
from indexer.search import locate_hits
from retrieval.locate import LocateError

DENSE, VLM = "dense", "vlm"


def dense_locator_of(settings, encoder, method: str | None = None, collection=None):
    try:
        return dense_locator(settings, encoder, method, collection)
    except LocateError as exc:
        raise ApiError(400, str(exc)) from None


async def vlm_locator_of(state):
    captioner = await get_captioner(state)
    try:
        return vlm_locator(captioner)
    except LocateError as exc:
        raise ApiError(400, f"{exc} (CLIPDEX_CAPTIONER)") from None


async def run_locator(function, *args, vlm: bool = False):
    """A locator call off the event loop; a VLM's as one of the captioner's generations, one at a time."""
    if vlm:
        return await run_captioner(function, *args)  # (a LocateError is a ValueError: a 422 there too)
    try:
        return await run_in_threadpool(function, *args)
    except LocateError as exc:
        raise ApiError(422, str(exc)) from None


async def fill_hit_regions(state, encoder, hits: list[ImageHit], vector, label: str) -> None:
    """Each API hit gets the box of ``vector`` and its heat map (dense, from the encoder):
    the locator made, the hits' files looked up and located in one trip off the event loop."""
    def locate() -> None:
        locator = dense_locator_of(state.settings, encoder, collection=state.collection)
        paths = state.collection.store.paths_of(hit.id for hit in hits)  # (API hits may show paths shortened)
        raw = [Hit(score=h.score, file_id=h.id, vector_id=0, path=paths.get(h.id, ""), width=h.width, height=h.height,
                   taken_at=None) for h in hits]
        locate_hits(raw, locator, vector, label, state.settings.max_image_pixels, state.collection)
        for hit, located in zip(hits, raw):
            hit.regions += [RegionOut(**region.as_dict()) for region in located.regions]
            hit.heatmap = located.heatmap

    await run_locator(locate)
