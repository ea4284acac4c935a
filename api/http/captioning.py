"""The service's captioner (from the model cache: loaded on the first request that needs it),
and the captioning of search hits (cached captions first, new ones within the time budget)."""

from __future__ import annotations

import anyio
from starlette.concurrency import run_in_threadpool

from api.http.errors import ApiError
from api.http.model_cache import CAPTIONER
from indexer.captions import caption_files
from retrieval.captioning import AnswerNotSupported, CaptionerError, PromptTooLong


async def get_captioner(state):
    try:
        return await state.models.get(CAPTIONER)
    except (CaptionerError, RuntimeError, ValueError, OSError, ImportError) as exc:
        raise ApiError(503, f"the captioner could not be loaded: {exc}", code="unavailable") from None


# One generation at a time: several on one model only compete for the same GPU memory
# and cores (and may run out of the first).
_generating = anyio.Semaphore(1)


async def run_captioner(function, *args, **kwargs):
    """A captioner call off the event loop, one at a time, its failures as API errors."""
    try:
        async with _generating:
            return await run_in_threadpool(function, *args, **kwargs)
    except (PromptTooLong, AnswerNotSupported) as exc:
        raise ApiError(422 if isinstance(exc, PromptTooLong) else 400, str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    except CaptionerError as exc:
        raise ApiError(503, str(exc), code="unavailable") from None


async def fill_hit_captions(state, hits: list, prompt: str | None) -> str:
    """Fill ``caption`` and ``caption_status`` of API hits; returns the captioner's name."""
    captioner = await get_captioner(state)
    results = await run_captioner(caption_files, state.collection.store, captioner, [hit.id for hit in hits], prompt,
                                  state.settings.caption_budget_s, state.settings.max_image_pixels)
    for hit in hits:
        result = results.get(hit.id)
        if result is None:
            continue
        hit.caption = result.caption
        hit.caption_status = ("pending" if result.pending else "failed" if result.error
                              else "cached" if result.cached else "new")
    return captioner.name
