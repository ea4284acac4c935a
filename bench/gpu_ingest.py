"""GPU ingest: images/s from JPEG files into a collection, against the model-only ceiling.

    python -m bench.gpu_ingest [--images 20000] [--models ViT-B-32 ViT-L-14] [--workers N]

For each model (random weights), in one run on the same GPU:
  model only            pre-made normalised tensors already on the GPU, bf16 autocast (the ceiling)
  cpu decode            clipdex index with PIL decoding + resize in DataLoader workers
  gpu decode, torchvision   nvJPEG through torchvision (Huffman decoding on the CPU), resize on the GPU
  gpu decode, nvimgcodec    the GPU's hardware JPEG engines through nvImageCodec, resize on the GPU
Each pipeline row also gives the CPU seconds per 1,000 images of the main process and of the
workers (to see which side limits it) and the agreement (cosine) of its embeddings with the
CPU path's. Prints a table and writes bench/results/gpu_ingest.json ($OUT/ when set).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

from bench.common import hub_offline, temp_path, write_result
from bench.photos import make_folder

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


def pipeline(encoder, folder: str, decode: str, jpeg: str, args) -> dict:
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, default_workers, index_folders

    workers = args.workers
    if workers is None and decode == "cpu":
        workers = default_workers(gpu_decode=True)  # the CPU baseline gets as many cores as the GPU rows
    data = tempfile.mkdtemp(prefix="clipdex-gpu-bench-")
    try:
        collection = Collection(data)
        options = IndexOptions(batch_size=args.batch_size, num_workers=workers, progress=False, decode=decode,
                               jpeg_decoder=jpeg, checkpoint_seconds=60)
        if args.decode_threads:
            options.decode_threads = args.decode_threads
        main_cpu = resource.getrusage(resource.RUSAGE_SELF)
        workers_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers count once they exit
        started = time.perf_counter()
        report = index_folders(collection, [folder], encoder.spec, lambda: encoder, options)
        seconds = time.perf_counter() - started
        main_after = resource.getrusage(resource.RUSAGE_SELF)
        workers_after = resource.getrusage(resource.RUSAGE_CHILDREN)

        def cpu_seconds(before, after):
            spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return round(spent / max(report.embedded, 1) * 1000, 3)

        vectors = {}
        index = collection.load_index()
        for row in collection.store.iter_ok():
            if len(vectors) >= 2000:
                break
            vectors[row["path"]] = index.reconstruct(row["vector_id"])
        collection.close()
        return {"images_per_s": report.embedded / seconds, "seconds": seconds, "embedded": report.embedded,
                "failed": report.failed, "main_cpu_s_per_1k": cpu_seconds(main_cpu, main_after),
                "workers_cpu_s_per_1k": cpu_seconds(workers_cpu, workers_after), "vectors": vectors}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def cosine(a: dict, b: dict) -> dict:
    import numpy as np

    shared = sorted(set(a) & set(b))
    cosines = np.array([float(a[p] @ b[p]) for p in shared])
    return {"files": len(shared), "min": float(cosines.min()), "mean": float(cosines.mean())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--models", nargs="*", default=["ViT-B-32", "ViT-L-14"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None, help="default: the pipeline's own choice")
    parser.add_argument("--decode-threads", type=int, default=None, help="default: the pipeline's own choice")
    parser.add_argument("--skip-cpu-decode-for", nargs="*", default=["ViT-L-14"])
    parser.add_argument("--work", default=temp_path("clipdex-gpu-bench"))
    args = parser.parse_args()
    hub_offline()

    import torch

    from indexer.ingest import IndexOptions, default_workers
    from retrieval.encoders import TorchEncoder
    from retrieval.images.gpu_preprocess import choose_jpeg_decoder
    from retrieval.models import load_model

    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark measures the GPU path")
    started = time.perf_counter()
    folder = os.path.join(args.work, f"photos_{args.images}")
    make_folder(folder, args.images, sizes=PHOTO_SIZES)
    warm_folder = os.path.join(args.work, "photos_warm")
    make_folder(warm_folder, 4 * args.batch_size, sizes=PHOTO_SIZES)
    print(f"folder of {args.images} JPEGs ready in {time.perf_counter() - started:.0f}s", flush=True)

    decoders = [("torchvision", "clipdex index, GPU decode, torchvision")]
    hardware = choose_jpeg_decoder("cuda", "nvimgcodec").name == "nvimgcodec"
    if hardware:
        decoders.append(("nvimgcodec", "clipdex index, GPU decode, nvimgcodec"))
    rows = []
    for arch in args.models:
        encoder = TorchEncoder(load_model(f"random:{arch}"), device="cuda", batch_size=args.batch_size)
        ceiling = model_only(encoder, args.batch_size)
        rows.append({"model": arch, "row": "model only (tensors on GPU)", "images_per_s": ceiling, "of_ceiling": 1.0})
        runs = {}
        if arch not in args.skip_cpu_decode_for:
            runs["cpu"] = ("clipdex index, CPU decode", pipeline(encoder, folder, "cpu", "auto", args))
        for jpeg, name in decoders:
            pipeline(encoder, warm_folder, "device", jpeg, args)  # decoder set-up, kernels, page cache
            runs[jpeg] = (name, pipeline(encoder, folder, "device", jpeg, args))
        for key, (name, run) in runs.items():
            row = {"model": arch, "row": name, "of_ceiling": run["images_per_s"] / ceiling,
                   **{k: v for k, v in run.items() if k != "vectors"}}
            if key != "cpu" and "cpu" in runs:
                row["cosine_vs_cpu_path"] = cosine(runs["cpu"][1]["vectors"], run["vectors"])
            rows.append(row)
        del encoder
        torch.cuda.empty_cache()

    options = IndexOptions()
    workers = args.workers if args.workers is not None else default_workers(True)
    threads = args.decode_threads or options.decode_threads
    print(f"\nGPU ingest on {torch.cuda.get_device_name(0)}, {args.images} JPEGs (500x375..1024x768), "
          f"batch {args.batch_size}, {workers} workers, {threads} decode threads, {os.cpu_count()} CPUs"
          + ("" if hardware else "; nvImageCodec's hardware decoder unavailable"))
    print(f"{'model':10s} {'row':40s} {'images/s':>10s} {'of ceiling':>11s} {'CPU s/1k main':>14s} {'workers':>8s}")
    for row in rows:
        cpu = f"{row['main_cpu_s_per_1k']:14.2f} {row['workers_cpu_s_per_1k']:8.2f}" if "seconds" in row else ""
        print(f"{row['model']:10s} {row['row']:40s} {row['images_per_s']:10.0f} {row['of_ceiling']:11.2f} {cpu}")
        if row.get("cosine_vs_cpu_path"):
            c = row["cosine_vs_cpu_path"]
            print(f"{'':10s} {'  cosine vs CPU path':40s} min {c['min']:.5f} mean {c['mean']:.5f} ({c['files']} files)")
    result = {"device": torch.cuda.get_device_name(0), "images": args.images, "batch_size": args.batch_size,
              "workers": workers, "decode_threads": threads, "cpus": os.cpu_count(),
              "hardware_jpeg_decoder": hardware, "rows": rows}
    write_result("gpu_ingest.json", result, folder=os.environ.get("OUT"))


if __name__ == "__main__":
    main()
