"""Exact search on the GPU (retrieval/index/device_search.py) against FAISS's exact search on
the CPU: one query's latency, batched queries per second, and recall against the CPU's answer.

    python -m bench.gpu_search [--sizes 1000000 10000000] [--dim 512] [--device cuda]

Clustered synthetic unit vectors (bench/synthetic_vectors.py) written as the collection's
float16 vector rows. Rows: each size on the device (p50 ms of single queries, queries/s
of batches of 1,000), and recall@10 of 200 queries against FAISS flat on the CPU (1.0 is
the same answer). Without a GPU it runs on the CPU at small sizes, to check itself.
Goal (one H200): 10M vectors, p50 <= 5 ms for one query, >= 10,000 queries/s batched.
Prints a table and writes bench/results/gpu_search.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from bench.common import print_table, write_result
from bench.synthetic_vectors import VectorMixture

CHUNK = 1 << 20


def _rows(path: str, count: int, dim: int):
    from retrieval.index.vector_rows import VectorRows

    rows = VectorRows(path, dim)
    mixture = VectorMixture(dim, 1000)
    for number, start in enumerate(range(0, count, CHUNK)):
        part = np.arange(start, min(count, start + CHUNK), dtype=np.int64)
        rows.write(part, mixture.sample(len(part), number))
    rows.flush()
    return rows, mixture.sample(1200, 10**6)


def _cpu_answer(rows, count: int, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(rows.dim)
    for _, vectors in rows.iter_chunks(np.arange(count), CHUNK):
        flat.add(vectors)
    return flat.search(queries, k)[1]


def measure(count: int, dim: int, device: str, k: int = 10) -> dict:
    import torch

    from retrieval.index.device_search import DeviceExactSearch

    with tempfile.TemporaryDirectory() as folder:
        rows, queries = _rows(os.path.join(folder, "vectors.f16"), count, dim)
        started = time.perf_counter()
        search = DeviceExactSearch(rows, np.arange(count), device)
        load_s = time.perf_counter() - started
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        single = []
        for query in queries[:100]:
            started = time.perf_counter()
            search.search(query[None], k)
            sync()
            single.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _, found = search.search(queries[:1000], k)
        sync()
        batched = 1000 / (time.perf_counter() - started)
        expected = _cpu_answer(rows, count, queries[:200], k)
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found[:200], expected)]))
        rows.close()
    return {"vectors": count, "dim": dim, "device": device, "load_s": load_s,
            "p50_ms": statistics.median(single[10:]), "batched_qps": batched, "recall_at_10": recall}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    sizes = args.sizes or ([1_000_000, 10_000_000] if args.device.startswith("cuda") else [20_000, 100_000])
    rows = [measure(size, args.dim, args.device) for size in sizes]
    print_table([("vectors", "12,d", "vectors"), ("device", "<8s", "device"), ("load s", "7.1f", "load_s"),
                 ("p50 ms", "8.2f", "p50_ms"), ("batched q/s", "12.0f", "batched_qps"),
                 ("recall@10", "10.3f", "recall_at_10")], rows)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    write_result("gpu_search.json", {"device": name, "rows": rows})


if __name__ == "__main__":
    main()
