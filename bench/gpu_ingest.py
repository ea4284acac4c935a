"""GPU ingest: images/s from JPEG files into a collection, against the model-only ceiling.

    python bench/gpu_ingest.py [--images 20000] [--models ViT-B-32 ViT-L-14] [--workers 12]

For each model (random weights), in one run on the same GPU:
  model only      pre-made normalised tensors already on the GPU, bf16 autocast (the ceiling)
  cpu decode      clipdex index with PIL decoding + resize in DataLoader workers
  gpu decode      clipdex index with nvJPEG decoding + resize/crop/normalise on the GPU
Also the agreement (cosine) between the CPU-path and GPU-path embeddings of the same files.
Prints a table and writes bench/results/gpu_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from photos import make_folder  # noqa: E402

PHOTO_SIZES = ((500, 375), (640, 480), (800, 600), (1024, 768), (375, 500), (768, 1024))


def model_only(encoder, batch_size: int, batches: int = 30) -> float:
    import torch

    pixels = torch.randn(batch_size, 3, encoder.loaded.image_size, encoder.loaded.image_size, device=encoder.device)
    for _ in range(3):
        encoder.embed_pixels(pixels)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(batches):
        encoder.embed_pixels(pixels)
    torch.cuda.synchronize()
    return batch_size * batches / (time.perf_counter() - started)


def pipeline(encoder, folder: str, decode: str, batch_size: int, workers: int, threads: int = 3) -> dict:
    from indexer.collection import Collection
    from indexer.pipeline import IndexOptions, index_folders

    data = tempfile.mkdtemp(prefix="clipdex-gpu-bench-")
    try:
        collection = Collection(data)
        options = IndexOptions(batch_size=batch_size, num_workers=workers, progress=False, decode=decode,
                               checkpoint_seconds=60, decode_threads=threads)
        started = time.perf_counter()
        report = index_folders(collection, [folder], encoder.spec, lambda: encoder, options)
        seconds = time.perf_counter() - started
        vectors = {}
        index = collection.load_index()
        for row in collection.store.iter_ok():
            if len(vectors) >= 2000:
                break
            vectors[row["path"]] = index.reconstruct(row["vector_id"])
        collection.close()
        return {"images_per_s": report.embedded / seconds, "seconds": seconds, "embedded": report.embedded,
                "failed": report.failed, "vectors": vectors}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--models", nargs="*", default=["ViT-B-32", "ViT-L-14"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 5))
    parser.add_argument("--decode-threads", type=int, default=3)
    parser.add_argument("--skip-cpu-decode-for", nargs="*", default=[])
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "clipdex-gpu-bench"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from retrieval.encoder import Encoder
    from retrieval.models import load_model

    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark measures the GPU path")
    started = time.perf_counter()
    folder = os.path.join(args.work, f"photos_{args.images}")
    make_folder(folder, args.images, sizes=PHOTO_SIZES)
    print(f"folder of {args.images} JPEGs ready in {time.perf_counter() - started:.0f}s", flush=True)

    rows = []
    for arch in args.models:
        encoder = Encoder(load_model(f"random:{arch}"), device="cuda", batch_size=args.batch_size)
        ceiling = model_only(encoder, args.batch_size)
        rows.append({"model": arch, "row": "model only (tensors on GPU)", "images_per_s": ceiling, "of_ceiling": 1.0})
        gpu = pipeline(encoder, folder, "auto", args.batch_size, args.workers, args.decode_threads)
        gpu = pipeline(encoder, folder, "auto", args.batch_size, args.workers, args.decode_threads)  # warm
        row = {"model": arch, "row": "clipdex index, GPU decode", "images_per_s": gpu["images_per_s"],
               "of_ceiling": gpu["images_per_s"] / ceiling, "seconds": gpu["seconds"], "failed": gpu["failed"]}
        cosine = None
        if arch not in args.skip_cpu_decode_for:
            cpu = pipeline(encoder, folder, "cpu", args.batch_size, args.workers)
            rows.append({"model": arch, "row": "clipdex index, CPU decode", "images_per_s": cpu["images_per_s"],
                         "of_ceiling": cpu["images_per_s"] / ceiling, "seconds": cpu["seconds"],
                         "failed": cpu["failed"]})
            shared = sorted(set(cpu["vectors"]) & set(gpu["vectors"]))
            cosines = np.array([float(cpu["vectors"][p] @ gpu["vectors"][p]) for p in shared])
            cosine = {"files": len(shared), "min": float(cosines.min()), "mean": float(cosines.mean())}
        row["cosine_vs_cpu_path"] = cosine
        rows.append(row)
        del encoder
        torch.cuda.empty_cache()

    print(f"\nGPU ingest on {torch.cuda.get_device_name(0)}, {args.images} JPEGs (500x375..1024x768), "
          f"batch {args.batch_size}, {args.workers} workers, {args.decode_threads} decode threads, "
          f"{os.cpu_count()} CPUs")
    print(f"{'model':10s} {'row':32s} {'images/s':>10s} {'of ceiling':>11s}")
    for row in rows:
        print(f"{row['model']:10s} {row['row']:32s} {row['images_per_s']:10.0f} {row['of_ceiling']:11.2f}")
        if row.get("cosine_vs_cpu_path"):
            c = row["cosine_vs_cpu_path"]
            print(f"{'':10s} {'  cosine GPU vs CPU path':32s} min {c['min']:.5f} mean {c['mean']:.5f} ({c['files']} files)")
    result = {"device": torch.cuda.get_device_name(0), "images": args.images, "batch_size": args.batch_size,
              "workers": args.workers, "cpus": os.cpu_count(), "rows": rows}
    out_dir = os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gpu_ingest.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {os.path.join(out_dir, 'gpu_ingest.json')}")


if __name__ == "__main__":
    main()
