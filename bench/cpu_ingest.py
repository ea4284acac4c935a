"""CPU ingest by backend: PyTorch eager, ONNX Runtime fp32, ONNX Runtime int8.

    python -m bench.cpu_ingest [--images 2000] [--model random:ViT-B-32] [--large-every 10]

In one run on the same machine, for each backend:
  model forward   pre-made tensors, batches through the encoder only (its ceiling)
  clipdex index   the whole pipeline from files: scan, hash, decode (PIL draft mode for
                  big JPEGs) in a worker process, embed, write SQLite + FAISS
The folder mixes 640x480 and 4000x3000 photo-like JPEGs (every --large-every-th is big).
Agreement with PyTorch: cosine of the same files' vectors, and for int8 the share of
the fp32 collection's top-10 that the int8 collection returns, for image and text queries.
Prints a table and writes bench/results/cpu_ingest.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from bench.common import hub_offline, print_table, temp_path, write_result
from bench.ingest import forward_ceiling, index_into
from bench.photos import make_folder

GOAL = 19.0  # 1.5x an ONNX Runtime peer's ~12 images/s with ViT-B-32 on 2 cores
QUERIES = [f"a photo of {thing} {place}" for thing in ("a dog", "a red car", "two people", "a cat", "a bowl of fruit",
                                                      "an old church", "a child", "mountains", "a boat", "flowers")
           for place in ("on a beach", "in the street", "at sunset", "at night", "in the snow", "indoors",
                         "in a park", "by a lake", "in the rain", "from above")]  # 100 text queries


def vectors_by_path(data: str) -> dict[str, np.ndarray]:
    from indexer.collection import Collection

    collection = Collection(data)
    out = {row["path"]: collection.vector_of_file(row["id"]) for row in collection.store.iter_ok()}
    collection.close()
    return out


def top10_overlap(reference: str, other: str, queries: np.ndarray) -> float:
    """Mean share of ``reference``'s top-10 paths that ``other`` also returns."""
    from indexer.collection import Collection

    a, b = Collection(reference), Collection(other)
    shares = []
    for query in queries:
        mine = {hit.path for hit in a.search(query, 10)[0]}
        theirs = {hit.path for hit in b.search(query, 10)[0]}
        shares.append(len(mine & theirs) / max(len(mine), 1))
    a.close()
    b.close()
    return float(np.mean(shares))


def query_latency(encoder, vectors: int = 100_000) -> dict:
    """A text query end to end without HTTP: tokenize + text tower + search of a flat
    index of ``vectors`` (the default index up to 100k), one query at a time, warm."""
    from bench.synthetic_vectors import VectorMixture
    from retrieval.index.search_index import SearchIndex

    folder = tempfile.mkdtemp(prefix="clipdex-cpu-query-")
    try:
        index = SearchIndex.create(folder, encoder.dim)
        index.add(np.arange(vectors), VectorMixture(encoder.dim, clusters=1000).sample(vectors, stream=0))
        encode, total = [], []
        for round_ in range(3):
            for text in QUERIES[:20]:
                started = time.perf_counter()
                query = encoder.embed_texts([text])
                encoded = time.perf_counter()
                index.search(query, 10)
                if round_:  # the first round warms up
                    encode.append(encoded - started)
                    total.append(time.perf_counter() - started)
        return {"vectors": vectors, "encode_p50_ms": float(np.median(encode) * 1e3),
                "total_p50_ms": float(np.median(total) * 1e3), "total_max_ms": float(np.max(total) * 1e3)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--large-every", type=int, default=10, help="every Nth file is 4000x3000")
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="decode worker processes (rows)")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--work", default=temp_path("clipdex-bench"))
    args = parser.parse_args()
    hub_offline()

    import torch

    from retrieval.encoders.backend import make_encoder
    from retrieval.models import load_model

    sizes = [(640, 480)] * (args.large_every - 1) + [(4000, 3000)]
    folder = os.path.join(args.work, f"cpu_photos_{args.images}_{args.large_every}")
    paths = make_folder(folder, args.images, sizes=tuple(sizes))
    loaded = load_model(args.model)
    sample = paths[: 8 * args.batch_size]
    rows, data_dirs, encoders, queries = [], {}, {}, {}
    for backend in args.backends:
        encoder = make_encoder(loaded, backend, device="cpu", batch_size=args.batch_size)
        encoders[backend] = encoder
        ceiling = forward_ceiling(encoder, sample, args.batch_size)
        queries[backend] = query_latency(encoder)
        for workers in args.workers:
            data = tempfile.mkdtemp(prefix=f"clipdex-cpu-{backend}-")
            data_dirs.setdefault(backend, data)  # the first run's collection is compared below
            pipeline = index_into(encoder, folder, data, args.batch_size, workers)
            rows.append({"backend": encoder.backend, "workers": workers, "forward_images_per_s": ceiling,
                         **pipeline, "ratio_to_forward": pipeline["images_per_s"] / ceiling})
            print(f"{encoder.backend:12s} forward {ceiling:6.1f} img/s   clipdex index ({workers} decode workers) "
                  f"{pipeline['images_per_s']:6.1f} img/s", flush=True)
            if data != data_dirs[backend]:
                shutil.rmtree(data, ignore_errors=True)

    agreement = {}
    reference = vectors_by_path(data_dirs["torch"]) if "torch" in data_dirs else None
    for backend, data in data_dirs.items():
        if reference is None or backend == "torch":
            continue
        mine = vectors_by_path(data)
        cosines = np.array([float(mine[p] @ reference[p]) for p in reference if p in mine])
        agreement[backend] = {"cosine_min": float(cosines.min()), "cosine_mean": float(cosines.mean())}
    if "onnx" in data_dirs and "onnx-int8" in data_dirs:
        image_queries = np.stack(list(vectors_by_path(data_dirs["onnx"]).values())[:200])
        text_queries = encoders["onnx"].embed_texts(QUERIES)
        agreement["onnx-int8"]["top10_kept_image_queries"] = top10_overlap(data_dirs["onnx"], data_dirs["onnx-int8"],
                                                                          image_queries)
        agreement["onnx-int8"]["top10_kept_text_queries"] = top10_overlap(data_dirs["onnx"], data_dirs["onnx-int8"],
                                                                         text_queries)

    print(f"\nCPU ingest: {args.images} JPEGs (640x480, every {args.large_every}th 4000x3000), {args.model}, "
          f"batch {args.batch_size}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}")
    print_table([("backend", "12s", "backend"), ("workers", "7d", "workers"),
                 ("forward img/s", "14.1f", "forward_images_per_s"), ("index img/s", "12.1f", "images_per_s"),
                 ("of forward", "11.2f", "ratio_to_forward"),
                 (f"vs goal {GOAL:g}", "11.2f", lambda row: row["images_per_s"] / GOAL)], rows)
    for backend, values in queries.items():
        print(f"text query, {backend}: encode {values['encode_p50_ms']:.1f} ms, encode + search of "
              f"{values['vectors']} vectors p50 {values['total_p50_ms']:.1f} ms (max {values['total_max_ms']:.1f})")
    for backend, values in agreement.items():
        print(f"{backend} vs torch: " + ", ".join(f"{k} {v:.5f}" for k, v in values.items()))
    result = {"model": args.model, "images": args.images, "large_every": args.large_every,
              "batch_size": args.batch_size, "workers": args.workers, "cpus": os.cpu_count(),
              "torch_threads": torch.get_num_threads(), "goal_images_per_s": GOAL, "rows": rows,
              "agreement": agreement, "text_query": queries}
    write_result("cpu_ingest.json", result)
    for data in data_dirs.values():
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
