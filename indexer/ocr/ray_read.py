"""Reading the text of pictures on a Ray cluster (`clipdex index --ray --ocr`): the pictures
go out in chunks as tasks, each task's worker loads the engine once and keeps it, results
come back as tasks finish. The commit is the ordinary run's (indexer/ocr/run.py)."""

from __future__ import annotations

from collections.abc import Iterator

from indexer.ray_cluster import RayConnection
from retrieval.regions import Region

CHUNK = 16  # pictures a task reads
IN_FLIGHT = 64  # tasks handed to the cluster at once

_engines: dict = {}  # a worker process's engines, by spec


def read_chunk(spec: str, items: list[tuple[str, str]], max_pixels: int) -> list[tuple]:
    """What one task does: (content hash, line dicts or None, error) for each (hash, path)."""
    from retrieval.ocr import load_ocr_engine
    from retrieval.ocr.worker import read_file

    engine = _engines.get(spec)
    if engine is None:
        engine = _engines[spec] = load_ocr_engine(spec, threads=1)
    out = []
    for content, path in items:
        lines, error = read_file(engine, content, path, max_pixels)
        out.append((content, None if lines is None else [line.as_dict() for line in lines], error))
    return out


class RayReader:
    """The distributor of OcrOptions for Ray: (spec, [(hash, path)], max_pixels) -> (hash, lines, error)."""

    def __init__(self, ray_options):
        self.ray_options = ray_options

    def __call__(self, spec: str, items: list[tuple[str, str]], max_pixels: int) -> Iterator[tuple]:
        connection = RayConnection(self.ray_options.address)
        ray = connection.connect()
        try:
            task = ray.remote(num_cpus=1, max_retries=self.ray_options.task_retries, retry_exceptions=True)(read_chunk)
            chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
            pending = []
            while chunks or pending:
                while chunks and len(pending) < IN_FLIGHT:
                    pending.append(task.remote(spec, chunks.pop(0), max_pixels))
                done, pending = ray.wait(pending, num_returns=1)
                for content, lines, error in ray.get(done[0]):
                    yield content, None if lines is None else [Region.from_dict(d) for d in lines], error
        finally:
            connection.disconnect()
