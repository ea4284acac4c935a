"""Ingest throughput of `clipdex index` against the bare model forward (the ceiling).

    python -m bench.ingest [--images 2000] [--model random:ViT-B-32] [--noop-files 10000]

Rows, all in one run on the same machine:
  model forward   pre-made tensors of the same images, batches through the encoder only
  clipdex index   scan, hash, decode in worker processes, embed, write SQLite + FAISS
  no-change index `clipdex index` again as a subprocess on an unchanged 10,000-file folder
Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench.common import hub_offline, print_table, temp_path, write_result
from bench.photos import make_folder


def forward_ceiling(encoder, paths, batch_size) -> float:
    import torch

    from retrieval.images.decode import decode_image

    tensors = []
    for path in paths:
        with open(path, "rb") as handle:
            tensors.append(encoder.preprocess(decode_image(handle.read()).image))
    batches = [torch.stack(tensors[i:i + batch_size]) for i in range(0, len(tensors), batch_size)]
    encoder.embed_pixels(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        encoder.embed_pixels(batch)
    return len(paths) / (time.perf_counter() - started)


def index_into(encoder, folder: str, data: str, batch_size: int, workers: int) -> dict:
    """`clipdex index` of ``folder`` into the collection at ``data``, timed."""
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders

    collection = Collection(data)
    options = IndexOptions(batch_size=batch_size, num_workers=workers, progress=False)
    started = time.perf_counter()
    report = index_folders(collection, [folder], encoder.spec, lambda: encoder, options)
    seconds = time.perf_counter() - started
    collection.close()
    return {"images_per_s": report.embedded / seconds, "embedded": report.embedded, "failed": report.failed,
            "seconds": seconds}


def index_throughput(encoder, folder, batch_size, workers) -> tuple[float, dict]:
    data = tempfile.mkdtemp(prefix="clipdex-bench-")
    try:
        result = index_into(encoder, folder, data, batch_size, workers)
        return result.pop("images_per_s"), result
    finally:
        shutil.rmtree(data, ignore_errors=True)


def noop_reindex_seconds(folder: str, count: int) -> tuple[float, float]:
    """(first index, no-change re-index) wall seconds of the real command."""
    make_folder(folder, count, sizes=((64, 48),))
    data = os.path.join(folder, ".clipdex")
    shutil.rmtree(data, ignore_errors=True)
    cmd = [sys.executable, "-m", "api.cli", "index", folder, "--model", "random:clipdex-tiny", "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    first = time.perf_counter() - started
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
        runs.append(time.perf_counter() - started)
        assert "up to date" in out.stdout, out.stdout
    return first, min(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--noop-files", type=int, default=10000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", default=temp_path("clipdex-bench"))
    args = parser.parse_args()
    hub_offline()

    import torch

    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model

    folder = os.path.join(args.work, f"photos_{args.images}")
    paths = make_folder(folder, args.images)
    encoder = TorchEncoder(load_model(args.model), device=args.device, batch_size=args.batch_size)

    # The ceiling is measured before and after the pipeline rows and the faster kept, so
    # that a noisy neighbour during one measurement does not flatter the ratio.
    measured = [forward_ceiling(encoder, paths, args.batch_size)]
    pipeline_rows = []
    for workers in args.workers:
        rate, detail = index_throughput(encoder, folder, args.batch_size, workers)
        pipeline_rows.append((workers, rate, detail))
    measured.append(forward_ceiling(encoder, paths, args.batch_size))
    ceiling = max(measured)
    rows = [{"row": "model forward (ceiling)", "images_per_s": ceiling, "ratio": 1.0, "measurements": measured}]
    for workers, rate, detail in pipeline_rows:
        rows.append({"row": f"clipdex index, {workers} decode workers", "images_per_s": rate,
                     "ratio": rate / ceiling, **detail})
    first, noop = noop_reindex_seconds(os.path.join(args.work, f"small_{args.noop_files}"), args.noop_files)

    print(f"\nclipdex ingest: {args.images} JPEGs 640x480, {args.model}, batch {args.batch_size}, "
          f"device {encoder.device}, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    print_table([("row", "40s", "row"), ("images/s", "10.1f", "images_per_s"), ("of ceiling", "11.2f", "ratio")], rows)
    print(f"{'no-change re-index, ' + str(args.noop_files) + ' files':40s} {noop:9.2f}s  (first index {first:.1f}s)")
    result = {
        "model": args.model, "images": args.images, "batch_size": args.batch_size, "device": encoder.device,
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "rows": rows,
        "noop_reindex_files": args.noop_files, "noop_reindex_seconds": noop, "first_index_seconds": first,
    }
    write_result("ingest.json", result)


if __name__ == "__main__":
    main()
