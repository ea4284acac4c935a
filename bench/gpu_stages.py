"""Where GPU ingest time goes: each stage of the pipeline timed alone on the same files.

    python -m bench.gpu_stages --folder /tmp/clipdex-gpu-bench/photos_20000 [--model ViT-B-32]

Stages (images/s, each alone):
  read+hash         one process reading and hashing files
  loader            the DataLoader (workers read, hash, probe headers, batch the bytes)
  nvjpeg decode     torchvision decode_jpeg on cuda, batched, bytes already in memory
  decode+resize     the above plus orientation, resize, crop, normalise on the GPU
  decode+model      the above plus the model forward
Prints a table and writes bench/results/gpu_stages.json ($OUT/ when set).
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import write_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", required=True)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    args = parser.parse_args()

    import torch
    from torch.utils.data import DataLoader

    from indexer.ingest.decode import DecodeDataset, collate, content_hash
    from retrieval.encoders import TorchEncoder
    from retrieval.images.gpu_preprocess import TensorPreprocessor
    from retrieval.models import load_model

    paths = sorted(os.path.join(args.folder, n) for n in os.listdir(args.folder) if n.endswith(".jpg"))
    paths = paths[: args.images]
    rows = []

    def record(name, count, seconds):
        rows.append({"stage": name, "images_per_s": count / seconds, "seconds": seconds})
        print(f"{name:28s} {count / seconds:10.0f} images/s", flush=True)

    started = time.perf_counter()
    blobs = []
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        content_hash(data)
        blobs.append(data)
    record("read+hash (1 process)", len(paths), time.perf_counter() - started)

    from retrieval.images.decode import probe_image

    subset = paths[:2000]
    started = time.perf_counter()
    for path in subset:
        with open(path, "rb") as handle:
            handle.read()
    record("read only (1 process)", len(subset), time.perf_counter() - started)
    started = time.perf_counter()
    for path in subset:
        with open(path, "rb") as handle:
            probe_image(handle.read())
    record("read+probe (1 process)", len(subset), time.perf_counter() - started)
    started = time.perf_counter()
    for path in subset:
        DecodeDataset([(0, path)], None, frozenset(), 10**9, None, jpeg_to_device=True)[0]
    record("worker item (1 process)", len(subset), time.perf_counter() - started)

    encoder = TorchEncoder(load_model(f"random:{args.model}"), device="cuda", batch_size=args.batch_size)
    pre = TensorPreprocessor.from_model(encoder.model, "cuda")
    dataset = DecodeDataset(list(enumerate(paths)), encoder.preprocess, frozenset(), 10**9, None, jpeg_to_device=True)
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers, collate_fn=collate,
                        prefetch_factor=4)
    started = time.perf_counter()
    seen = sum(len(batch["jpegs"]) for batch in loader)
    record(f"loader ({args.workers} workers)", seen, time.perf_counter() - started)

    batches = [blobs[i:i + args.batch_size] for i in range(0, len(blobs), args.batch_size)]
    pre.decode(batches[0])
    torch.cuda.synchronize()
    started = time.perf_counter()
    for batch in batches:
        pre.decode(batch)
    torch.cuda.synchronize()
    record("nvjpeg decode", len(blobs), time.perf_counter() - started)

    started = time.perf_counter()
    for batch in batches:
        pre.batch(pre.decode(batch), dtype=torch.bfloat16)
    torch.cuda.synchronize()
    record("decode+resize", len(blobs), time.perf_counter() - started)

    started = time.perf_counter()
    for batch in batches:
        encoder.embed_pixels(pre.batch(pre.decode(batch), dtype=torch.bfloat16))
    torch.cuda.synchronize()
    record("decode+resize+model", len(blobs), time.perf_counter() - started)

    for chunk in (64, 128):
        small = [blobs[i:i + chunk] for i in range(0, len(blobs), chunk)]
        started = time.perf_counter()
        for batch in small:
            pre.decode(batch)
        torch.cuda.synchronize()
        record(f"nvjpeg decode, batch {chunk}", len(blobs), time.perf_counter() - started)

    # The pipeline's own overlap: a thread decodes on a side stream while the model runs.
    from indexer.ingest.gpu_feed import prepared_batches

    fake_loader = []
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        fake_loader.append({"pixels": None, "decoded": [], "moved": [], "failed": [],
                            "jpegs": [{"id": i, "path": p, "orientation": 1} for i, p in enumerate(chunk)]})
    started = time.perf_counter()
    for _batch, pixels, _items in prepared_batches(fake_loader, pre, encoder, 10**9):
        encoder.embed_pixels(pixels)
    torch.cuda.synchronize()
    record("decode+resize || model", len(blobs), time.perf_counter() - started)

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for batch in batches[:4]:
            encoder.embed_pixels(pre.batch(pre.decode(batch), dtype=torch.bfloat16))
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14)
    print(table)
    table_cuda = prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=10)
    print(table_cuda)

    pixels = pre.batch(pre.decode(batches[0]), dtype=torch.bfloat16)
    started = time.perf_counter()
    for _ in batches:
        encoder.embed_pixels(pixels)
    torch.cuda.synchronize()
    record("model only", len(blobs), time.perf_counter() - started)

    write_result("gpu_stages.json", {"device": torch.cuda.get_device_name(0), "model": args.model, "rows": rows},
                 folder=os.environ.get("OUT"))


if __name__ == "__main__":
    main()
