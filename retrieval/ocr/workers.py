"""Reading pictures in a pool of worker processes (worker.py), each with one engine of its
own: the engines run side by side on the cores, and a picture that crashes or hangs its
worker costs that picture only (it is recorded as failed, the worker is started again).

Workers are fresh interpreters that import only the OCR engine (no torch, nothing of the
caller's), so starting one costs about a second, whatever the calling program is.
"""

from __future__ import annotations

import json
import queue
import select
import subprocess
import sys
import threading
from collections.abc import Iterator

from retrieval.ocr.base import OcrError
from retrieval.regions import Region

PICTURE_TIMEOUT_S = 300.0  # a worker that takes longer on one picture is stopped
START_TIMEOUT_S = 300.0


class _Worker:
    def __init__(self, spec: str, threads: int, max_pixels: int):
        self.args = [sys.executable, "-m", "retrieval.ocr.worker", spec, str(threads), str(max_pixels)]
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self._receive(START_TIMEOUT_S)
        if hello is None or "ready" not in hello:
            self.stop()
            raise OcrError((hello or {}).get("fatal") or "an OCR worker process did not start")
        return hello["ready"]

    def _receive(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def ask(self, content: str, path: str) -> dict | None:
        """The answer for one picture; None when the worker died or hung on it."""
        try:
            self.process.stdin.write(json.dumps({"hash": content, "path": path}) + "\n")
            self.process.stdin.flush()
            return self._receive(PICTURE_TIMEOUT_S)
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _serve(worker: _Worker, todo: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            content, path = todo.get_nowait()
        except queue.Empty:
            return
        answer = worker.ask(content, path)
        if answer is None:  # the worker crashed or hung on this picture: record it, start another
            worker.stop()
            answer = {"lines": [], "error": "the OCR engine crashed or hung on this picture"}
            if not stop.is_set():
                try:
                    worker.start()
                except OcrError as exc:
                    done.put(exc)
                    return
        done.put((content, answer))


def _next(done: queue.Queue, serving: list[threading.Thread]):
    while True:
        try:
            return done.get(timeout=1.0)
        except queue.Empty:
            if not any(thread.is_alive() for thread in serving) and done.empty():
                return OcrError("the OCR workers stopped before every picture was read")


def read_in_workers(spec: str, items: list[tuple[str, str]], max_pixels: int, workers: int,
                    threads: int = 1) -> Iterator[tuple[str, list[Region] | None, str | None]]:
    """(content hash, lines or None, error) for each (content hash, path), as the workers
    finish them; lines None: the file changed or went since it was indexed."""
    pool = [_Worker(spec, threads, max_pixels) for _ in range(max(1, min(workers, len(items))))]
    todo: queue.Queue = queue.Queue()
    for item in items:
        todo.put(item)
    done: queue.Queue = queue.Queue()
    stop = threading.Event()
    try:
        for worker in pool:
            worker.start()
        threads_ = [threading.Thread(target=_serve, args=(w, todo, done, stop), daemon=True) for w in pool]
        for thread in threads_:
            thread.start()
        for _ in range(len(items)):
            result = _next(done, threads_)
            if isinstance(result, Exception):
                raise result
            content, answer = result
            lines = answer["lines"]
            yield content, None if lines is None else [Region.from_dict(d) for d in lines], answer["error"]
    finally:  # finished, failed or interrupted: no worker outlives the run
        stop.set()
        for worker in pool:
            worker.stop()
