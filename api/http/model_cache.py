"""The service's models, one keyed cache for all: the encoder, the captioner, the re-ranker.

A model takes hundreds of MB to GBs; a server that answers a few queries a day need not
hold them all the time. ``get(key)`` loads a model when absent (one load at a time per
key, off the event loop); a background task drops every model unused for
``idle_seconds`` (0: never). A model whose load failed keeps its error: the encoder's is
final (``/v1/ready`` reports it), the others are tried again on the next request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass
from typing import Callable

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

ENCODER, CAPTIONER, RERANKER = "encoder", "captioner", "reranker"


@dataclass
class _Entry:
    load: Callable[[], object]
    retry_after_error: bool
    lock: asyncio.Lock
    model: object | None = None
    error: str | None = None
    last_used: float = 0.0


class ModelCache:
    def __init__(self, idle_seconds: float = 0.0, keep_while: Callable[[], bool] = lambda: False):
        self.idle_seconds = idle_seconds
        self._keep_while = keep_while  # e.g. a re-index job is using the encoder
        self._entries: dict[str, _Entry] = {}
        self._watcher: asyncio.Task | None = None

    def register(self, key: str, load: Callable[[], object], retry_after_error: bool = True) -> None:
        self._entries[key] = _Entry(load, retry_after_error, asyncio.Lock())

    def peek(self, key: str):
        """The model if it is loaded now (None otherwise); loads nothing."""
        return self._entries[key].model

    def error(self, key: str) -> str | None:
        return self._entries[key].error

    async def get(self, key: str):
        """The model, loaded first if needed. A failed load raises (and, for a model that is
        not tried again, returns None from then on)."""
        entry = self._entries[key]
        entry.last_used = time.monotonic()
        if entry.model is None and (entry.error is None or entry.retry_after_error):
            async with entry.lock:
                if entry.model is None and (entry.error is None or entry.retry_after_error):
                    try:
                        entry.model = await run_in_threadpool(entry.load)
                        entry.error = None
                    except Exception as exc:
                        entry.error = str(exc)
                        log.error("%s not loaded: %s", key, exc)
                        raise
        entry.last_used = time.monotonic()
        return entry.model

    def start(self) -> None:
        if self.idle_seconds > 0:
            self._watcher = asyncio.create_task(self._unload_when_idle())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _unload_when_idle(self) -> None:
        while True:
            await asyncio.sleep(min(self.idle_seconds / 4, 30.0))
            for key, entry in self._entries.items():
                idle = time.monotonic() - entry.last_used
                if entry.model is not None and idle >= self.idle_seconds and not self._keep_while():
                    async with entry.lock:
                        self.unload(key)
                    log.info("%s unloaded after %.0f s unused", key, idle)

    def unload(self, key: str) -> None:
        """Requests in flight keep their own reference; the memory goes when they finish."""
        self._entries[key].model = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
