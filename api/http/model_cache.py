"""The service's model: loaded at start or on first use, unloaded after a while unused.

A model takes hundreds of MB to GBs; a server that answers a few queries a day need not
hold it all the time. ``get`` loads it when absent (one load at a time, off the event
loop); a background task drops it after ``idle_seconds`` without use (0: never).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Callable

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(self, state, load: Callable[[], None], idle_seconds: float = 0.0):
        self.state = state
        self._load = load  # sets state.encoder (or state.model_error)
        self.idle_seconds = idle_seconds
        self.last_used = time.monotonic()
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task | None = None

    @property
    def loaded(self) -> bool:
        return self.state.encoder is not None

    async def get(self):
        """The encoder, loading it first if needed; None when it cannot be loaded."""
        self.last_used = time.monotonic()
        if self.state.encoder is None and self.state.model_error is None:
            async with self._lock:
                if self.state.encoder is None and self.state.model_error is None:
                    await run_in_threadpool(self._load)
        self.last_used = time.monotonic()
        return self.state.encoder

    def start(self) -> None:
        if self.idle_seconds > 0:
            self._watcher = asyncio.create_task(self._unload_when_idle())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _unload_when_idle(self) -> None:
        while True:
            await asyncio.sleep(min(self.idle_seconds / 4, 30.0))
            idle = time.monotonic() - self.last_used
            if self.loaded and idle >= self.idle_seconds and not self.state.jobs.running():
                async with self._lock:
                    self.unload()
                log.info("model unloaded after %.0f s unused", idle)

    def unload(self) -> None:
        """Requests in flight keep their own reference; the memory goes when they finish."""
        self.state.encoder = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
