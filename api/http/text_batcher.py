"""Concurrent text queries share one encoder call.

A query waits up to a few milliseconds for others; then all waiting queries are embedded
as one batch in a worker thread, so the event loop never blocks on the model and a burst
of queries costs little more than one.
"""

from __future__ import annotations

import asyncio

import numpy as np
from starlette.concurrency import run_in_threadpool


class TextBatcher:
    def __init__(self, encoder, window_ms: float = 3.0, max_batch: int = 64):
        self.encoder = encoder
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self.batches = 0
        self.largest = 0
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def embed(self, text: str, encoder=None) -> np.ndarray:
        """``encoder``: the one to use (the caller's reference outlives an idle unload)."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((text, future, encoder or self.encoder))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self._queue.get()]
            deadline = loop.time() + self.window
            while len(waiting) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    waiting.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            self.batches += 1
            self.largest = max(self.largest, len(waiting))
            encoder = waiting[-1][2]  # all the same but across a reload; the newest one
            try:
                vectors = await run_in_threadpool(encoder.embed_texts, [text for text, _, _ in waiting])
            except Exception as exc:
                for _, future, _ in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future, _), vector in zip(waiting, vectors):
                if not future.done():
                    future.set_result(vector)
