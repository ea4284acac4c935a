"""`clipdex index --ray`: the embedding of an index run done by a Ray cluster.

The run is the ordinary one (indexer/pipeline.py): the scan and the plan (new, changed,
moved files, pending rows), and the commit of vectors and rows, happen here in the
driver, with the same file ids. Only the files the plan says need embedding go to Ray:

    work list -> shards of files by id range (SHARD_FILES ids each)
    Ray Data: from_items -> map_batches(decode, tasks: read, hash, decode, preprocess)
                         -> map_batches(encoder, a pool of actors, one GPU each on a GPU cluster)
    driver:   each finished shard -> <data_dir>/ray-shards/NUMBER-DIGEST.npz (atomic)
              -> vectors into the collection's (sharded FAISS) index, rows into the SQL store
              -> shard files deleted once a checkpoint has committed them

A shard's name holds a digest of its files (id, path, size, mtime) and the model, so a
rerun after a crash finds the shards already computed and sends only the missing ones to
Ray; a shard left over from other work is deleted. A task that raises is retried.

Ray is imported only here, and only when a run has something to embed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import math
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from indexer.collection import Collection
from indexer.ingest.contracts import FileEvents
from indexer.ingest.decode import DECODED, FAILED, MOVED, DecodeDataset
from indexer.ingest.options import IndexOptions, IndexReport
from indexer.ingest.results import ResultWriter
from indexer.ingest.run import index_folders
from indexer.ray_cluster import RayConnection, RayIndexError
from retrieval.atomic_io import atomic_write_bytes

log = logging.getLogger(__name__)

SHARD_DIR = "ray-shards"
SHARD_FILES = 4096  # files per shard: a shard is the unit of resuming
_SHARD_NAME = re.compile(r"^\d{10}-[0-9a-f]{16}\.npz$")
INSTALL_HINT = "pip install 'clipdex[ray]'"


@dataclass
class RayOptions:
    # None or "local": start a Ray instance on this machine (all its cores) for the run;
    # "auto", "HOST:PORT" or "ray://HOST:PORT": use a running cluster.
    address: str | None = None
    workers: int | None = None  # encoder actors; None: one per GPU, else half the CPUs
    shard_files: int = SHARD_FILES
    decode_batch: int = 32  # files per decode task
    task_retries: int = 3  # a task that raises is run again this many times
    # Shards handed to Ray at once (about a million files): bounds the memory of the work
    # list in the driver and the object store; each wave starts its actor pool anew.
    shards_per_wave: int = 256


@dataclass
class _Shard:
    number: int
    name: str
    items: list[tuple[int, str]]  # (file id, path), by id


def check_ray_installed() -> None:
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.data") is None:
        raise RayIndexError(f"--ray needs Ray Data, which is not installed: {INSTALL_HINT}")


def index_folders_ray(
    collection: Collection,
    roots: list[str],
    model_spec: str,
    encoder_factory: Callable,
    options: IndexOptions | None = None,
    ray_options: RayOptions | None = None,
    events: FileEvents | None = None,
) -> IndexReport:
    """``index_folders`` with the decoding and embedding done by Ray.

    ``encoder_factory`` is called once in the driver (the model's dimension) and once in
    each encoder actor, so it must pickle (cloudpickle) and build the same model there:
    an ``EncoderRecipe`` does.
    """
    ray_options = ray_options or RayOptions()
    check_ray_installed()
    if ray_options.workers is not None and ray_options.workers < 1:
        raise RayIndexError("--ray-workers must be at least 1")
    if ray_options.shard_files < 1:
        raise RayIndexError("shard_files must be at least 1")
    _check_reachable(ray_options.address)
    embed = RayEmbedPass(encoder_factory, ray_options)
    try:
        return index_folders(collection, roots, model_spec, encoder_factory, options, embed_pass=embed, events=events)
    finally:
        embed.disconnect()


class RayEmbedPass:
    """The embedding pass of ``index_folders`` (same arguments, same result) run by Ray."""

    def __init__(self, encoder_factory: Callable, ray_options: RayOptions):
        self.encoder_factory = encoder_factory
        self.ray_options = ray_options
        self._ray = RayConnection(ray_options.address)
        self.shards_computed = 0  # how the run went (logged)
        self.shards_reused = 0

    def __call__(self, collection, index, encoder, items, moved_by_hash, options, report, progress):
        folder = os.path.join(collection.data_dir, SHARD_DIR)
        shards = plan_shards(collection, items, self.ray_options.shard_files, options.max_pixels)
        _delete_stale(folder, {shard.name for shard in shards})
        results = ResultWriter(collection, index, moved_by_hash, options, report)
        paths = dict(items)
        recorded: list[str] = []  # shard files whose results the next checkpoint commits

        def record(shard: _Shard, columns: dict) -> None:
            progress.update(results.record(*_as_results(columns, paths)))
            recorded.append(os.path.join(folder, shard.name))
            if results.due():
                checkpoint()

        def checkpoint() -> None:
            results.checkpoint()
            for path in recorded:  # committed: a crash from here on no longer needs them
                os.remove(path)
            recorded.clear()

        missing = []
        for shard in shards:
            columns = read_shard(os.path.join(folder, shard.name), len(shard.items))
            if columns is None:
                missing.append(shard)
            else:
                self.shards_reused += 1
                record(shard, columns)
        if self.shards_reused:
            log.info("%d shards of an earlier run were already computed; %d to compute", self.shards_reused,
                     len(missing))
        wave = self.ray_options.shards_per_wave
        for start in range(0, len(missing), wave):
            for shard, columns in self._compute(missing[start:start + wave], encoder, moved_by_hash, options):
                write_shard(os.path.join(folder, shard.name), columns)
                self.shards_computed += 1
                record(shard, columns)
        checkpoint()
        log.info("Ray: %d shards computed, %d taken from an earlier run", self.shards_computed, self.shards_reused)
        return results.again

    # -- Ray --------------------------------------------------------------------------

    def disconnect(self) -> None:
        self._ray.disconnect()

    def _compute(self, shards: list[_Shard], encoder, moved_by_hash, options: IndexOptions) -> Iterator:
        """Yield (shard, columns) as the cluster finishes each shard, in no particular order."""
        ray = self._ray.connect()
        from ray.data import ActorPoolStrategy, DataContext, from_items

        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        workers = self.ray_options.workers or (gpus if gpus else max(1, cpus // 2))
        if gpus:
            actor = {"num_gpus": 1, "num_cpus": 1}
            threads, decode_cpus = None, 1.0
        else:
            # Logical CPUs for the scheduler: the actors take 3/4 of the cluster, decode
            # tasks a quarter CPU each, so that both always fit. Each actor's torch uses
            # its share of the real cores; decoding is short and shares them.
            actor = {"num_gpus": 0, "num_cpus": cpus * 0.75 / workers}
            threads, decode_cpus = max(1, round(cpus / workers)), 0.25
        if gpus and workers > gpus:
            raise RayIndexError(f"--ray-workers {workers}: the cluster has only {gpus} GPUs")
        context = DataContext.get_current()
        context.enable_progress_bars = bool(options.progress)
        retry: dict = {}
        if hasattr(context, "retried_map_errors"):  # newer Ray: one setting for tasks and actors
            context.retried_map_errors, context.max_map_retries = True, self.ray_options.task_retries
        else:
            context.actor_task_retry_on_errors = True
            retry = {"max_retries": self.ray_options.task_retries, "retry_exceptions": True}

        expected = {shard.number: len(shard.items) for shard in shards}
        rows = [{"id": file_id, "path": os.fsencode(path), "shard": shard.number}
                for shard in shards for file_id, path in shard.items]
        pixel_shape = _pixel_shape(encoder)
        decode_batch = self.ray_options.decode_batch
        dataset = from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / decode_batch)))
        dataset = dataset.map_batches(
            decode_batch_of_files,
            batch_size=decode_batch,
            batch_format="numpy",
            fn_kwargs={"preprocess": encoder.preprocess, "moved_hashes": frozenset(moved_by_hash),
                       "max_pixels": options.max_pixels, "min_side": encoder.loaded.image_size,
                       "pixel_shape": pixel_shape},
            num_cpus=decode_cpus,
            **retry,
        )
        dataset = dataset.map_batches(
            EncodeBatches,
            batch_size=options.batch_size_for(encoder),
            batch_format="numpy",
            compute=ActorPoolStrategy(size=workers),
            fn_constructor_kwargs={"factory": self.encoder_factory, "threads": threads, "dim": encoder.dim},
            **actor,
        )
        log.info("Ray: %d files in %d shards, %d encoder actors (%s)", len(rows), len(shards), workers,
                 f"{gpus} GPUs" if gpus else f"CPU, {threads} threads each")
        by_number = {shard.number: shard for shard in shards}
        partial: dict[int, list[dict]] = {}
        seen: dict[int, set[int]] = {}  # a file's result is taken once, should a retry repeat it
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for number in np.unique(batch["shard"]).tolist():
                ids_seen = seen.setdefault(number, set())
                rows_of = np.flatnonzero(batch["shard"] == number)
                rows_of = np.asarray([row for row in rows_of if int(batch["id"][row]) not in ids_seen], np.int64)
                ids_seen.update(batch["id"][rows_of].tolist())
                partial.setdefault(number, []).append(
                    {key: values[rows_of] for key, values in batch.items() if key != "shard"})
                if len(ids_seen) == expected[number]:
                    yield by_number[number], _joined(partial.pop(number))
                    del seen[number]
        if partial:
            raise RayIndexError(f"Ray returned incomplete shards {sorted(partial)}; run the command again")


def _check_reachable(address: str | None) -> None:
    """Fail in seconds on a HOST:PORT nobody listens at (ray.init would retry for minutes)."""
    if address in (None, "local", "auto"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayIndexError(f"bad Ray address {address!r}: give auto, HOST:PORT or ray://HOST:PORT "
                            f"(or --ray alone for a local instance)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise RayIndexError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from None


# -- what runs on the cluster ---------------------------------------------------------


def decode_batch_of_files(batch: dict, preprocess, moved_hashes, max_pixels, min_side, pixel_shape) -> dict:
    """A Ray Data task: read, hash, decode and preprocess files, as the decode workers of
    the single-process pipeline do (the same code). Bad files are results, not errors."""
    items = [(int(file_id), os.fsdecode(bytes(path))) for file_id, path in zip(batch["id"], batch["path"])]
    dataset = DecodeDataset(items, preprocess, moved_hashes, max_pixels, min_side)
    pixels = np.zeros((len(items), *pixel_shape), np.float32)  # zeros where nothing was decoded
    out = {"kind": [], "hash": [], "error": [], "width": [], "height": [], "taken_at": []}
    for position in range(len(items)):
        result = dataset[position]
        if result["kind"] == DECODED:
            pixels[position] = np.asarray(result.pop("pixels"))
        out["kind"].append(result["kind"])
        out["hash"].append(result.get("hash") or "")
        out["error"].append(_bytes(result.get("error") or ""))
        out["width"].append(result.get("width") or -1)
        out["height"].append(result.get("height") or -1)
        taken_at = result.get("taken_at")
        out["taken_at"].append(taken_at.isoformat() if taken_at else "")
    return {
        "id": np.asarray(batch["id"], np.int64),
        "shard": np.asarray(batch["shard"], np.int64),
        "kind": np.asarray(out["kind"], dtype=object),
        "hash": np.asarray(out["hash"], dtype=object),
        "error": np.asarray(out["error"], dtype=object),
        "width": np.asarray(out["width"], np.int64),
        "height": np.asarray(out["height"], np.int64),
        "taken_at": np.asarray(out["taken_at"], dtype=object),
        "pixels": pixels,
    }


class EncodeBatches:
    """A Ray Data actor: the model, loaded once, embeds batches of decoded images."""

    def __init__(self, factory: Callable, threads: int | None, dim: int):
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.encoder = factory()
        self.dim = dim

    def __call__(self, batch: dict) -> dict:
        import torch

        decoded = batch["kind"] == DECODED
        vectors = np.zeros((len(decoded), self.dim), np.float32)
        if decoded.any():
            pixels = torch.from_numpy(np.ascontiguousarray(batch["pixels"][decoded]))
            vectors[decoded] = self.encoder.embed_pixels(pixels)
        out = {key: values for key, values in batch.items() if key != "pixels"}
        out["vector"] = vectors
        return out


# -- shards on disk -------------------------------------------------------------------


def plan_shards(collection: Collection, items: list[tuple[int, str]], shard_files: int,
                max_pixels: int) -> list[_Shard]:
    """The work list cut by file id into fixed ranges, so that a shard keeps its files
    (and its name) from one run to the next while they stay pending."""
    states = collection.store.file_states()
    groups: dict[int, list[tuple[int, str]]] = {}
    for file_id, path in sorted(items):
        groups.setdefault(file_id // shard_files, []).append((file_id, path))
    shards = []
    for number, members in sorted(groups.items()):
        digest = hashlib.sha256(f"{collection.model_spec}\0{max_pixels}\n".encode())
        for file_id, path in members:
            state = states.get(path)
            size, mtime = (state.size, state.mtime_ns) if state else (-1, -1)
            digest.update(b"%d\0%s\0%d\0%d\n" % (file_id, os.fsencode(path), size, mtime))
        shards.append(_Shard(number, f"{number:010d}-{digest.hexdigest()[:16]}.npz", members))
    return shards


def _delete_stale(folder: str, keep: set[str]) -> None:
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name not in keep and (_SHARD_NAME.match(name) or name.startswith(".tmp-")):
            os.remove(os.path.join(folder, name))


def write_shard(path: str, columns: dict) -> None:
    """One shard's results: ids and vectors as arrays, the rest as JSON (written atomically)."""
    meta = [{"kind": kind, "hash": digest, "error": _text(error), "width": int(width), "height": int(height),
             "taken_at": taken_at}
            for kind, digest, error, width, height, taken_at in zip(
                columns["kind"], columns["hash"], columns["error"], columns["width"], columns["height"],
                columns["taken_at"])]
    buffer = io.BytesIO()
    np.savez(buffer, ids=np.asarray(columns["id"], np.int64), vectors=np.asarray(columns["vector"], np.float32),
             meta=np.asarray(json.dumps(meta, ensure_ascii=True)))
    atomic_write_bytes(path, buffer.getvalue())


def read_shard(path: str, expected: int) -> dict | None:
    """A shard written before, or None when it is missing or unusable (then recomputed)."""
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            ids, vectors, meta = saved["ids"], saved["vectors"], json.loads(str(saved["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("shard %s is unreadable (%s); computing it again", path, exc)
        return None
    if len(ids) != expected or len(vectors) != expected or len(meta) != expected:
        return None
    return {"id": ids, "vector": vectors, "kind": [m["kind"] for m in meta], "hash": [m["hash"] for m in meta],
            "error": [m["error"] for m in meta], "width": [m["width"] for m in meta],
            "height": [m["height"] for m in meta], "taken_at": [m["taken_at"] for m in meta]}


def _as_results(columns: dict, paths: dict[int, str]):
    """A shard's columns as ``ResultWriter.record`` takes them."""
    decoded, moved, failed, rows = [], [], [], []
    for row, file_id in enumerate(columns["id"]):
        file_id = int(file_id)
        kind, digest = columns["kind"][row], columns["hash"][row] or None
        if kind == DECODED:
            taken_at = columns["taken_at"][row]
            decoded.append({"id": file_id, "hash": digest, "width": _size(columns["width"][row]),
                            "height": _size(columns["height"][row]),
                            "taken_at": datetime.fromisoformat(taken_at) if taken_at else None})
            rows.append(row)
        elif kind == MOVED:
            moved.append({"id": file_id, "path": paths[file_id], "hash": digest})
        elif kind == FAILED:
            failed.append({"id": file_id, "error": _text(columns["error"][row]), "hash": digest})
        else:
            raise RayIndexError(f"unknown result kind {kind!r} in a shard")
    vectors = np.asarray(columns["vector"], np.float32)[rows] if rows else None
    return vectors, decoded, moved, failed


def _joined(parts: list[dict]) -> dict:
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.argsort(columns["id"], kind="stable")
    return {key: values[order] for key, values in columns.items()}


def _pixel_shape(encoder) -> tuple[int, ...]:
    """The shape of one preprocessed image: every decode task fills arrays of it."""
    from PIL import Image

    side = encoder.loaded.image_size or 224
    return tuple(encoder.preprocess(Image.new("RGB", (side, side))).shape)


def _size(value) -> int | None:
    return None if int(value) < 0 else int(value)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # any error text survives Arrow (which wants UTF-8)


def _text(value) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)
