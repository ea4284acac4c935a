"""Approximate indexes against exact search: recall@10, single-query latency, memory, build time.

    python -m bench.ann [--sizes 1000000 10000000] [--data clustered uniform] [--queries 200]

For each size and kind of synthetic 512-d unit vectors (bench/synthetic_vectors.py) this
builds the index clipdex chooses for that size through the collection's own path
(vectors written to the float16 store, the index trained on a sample and filled from
the store: SearchIndex.rebuild), saves it, loads it fresh and measures:
  recall@10   against exact inner-product search over the float32 vectors
  p50 / p99   one query at a time, re-ranking included (the store's pages warm)
  memory      resident memory the loaded index adds (the store is memory-mapped and
              counted separately), and the files on disk
and, on the same queries, exact flat search in RAM (for 10M, which does not fit in
RAM here, the flat time is that of a 1M chunk, measured, times the number of chunks).
Prints a table and writes bench/results/ann.json.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

from bench.common import RESULTS, ROOT, save_json, table_header, table_line
from bench.synthetic_vectors import VectorMixture
from retrieval.index.plan import default_nprobe, plan_for, shortlist_depth
from retrieval.index.search_index import SearchIndex
from retrieval.index.sharded_index import merge_top_k

CHUNK = 1_000_000


def anon_rss_mb() -> float:
    """Resident memory not backed by files (so not the memory-mapped vector store)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def resident_after_load(folder: str) -> float:
    """MB of (non-file) memory a fresh process gains by loading the index: nothing else
    of this run muddles the number there."""
    import subprocess

    child = subprocess.run([sys.executable, "-m", "bench.ann", "--measure-load", folder],
                           capture_output=True, text=True, check=True, cwd=ROOT)
    return float(child.stdout.strip().splitlines()[-1].split()[0])


def exact_top10(mixture: VectorMixture, n: int, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Ground truth chunk by chunk, and the single-query flat latency on the first chunk."""
    import faiss

    parts, flat_ms = [], None
    for start, vectors in mixture.chunks(n, CHUNK):
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        scores, ids = flat.search(queries, 10)
        parts.append((scores, np.where(ids >= 0, ids + start, -1)))
        if flat_ms is None:
            flat_ms = latency(functools.partial(flat.search, k=10), queries[:50])["p50_ms"]
        del flat  # 2 GB: free it before the next chunk
    return merge_top_k(parts, 10)[1], flat_ms * -(-n // CHUNK)


def latency(search, queries: np.ndarray) -> dict:
    times = []
    for query in queries:
        started = time.perf_counter()
        search(query[None])
        times.append(time.perf_counter() - started)
    return {"p50_ms": float(np.median(times) * 1e3), "p99_ms": float(np.percentile(times, 99) * 1e3)}


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth)]))


def run(n: int, data: str, dim: int, queries_n: int, work: str, sweep: bool = False) -> list[dict]:
    mixture = VectorMixture(dim, clusters=max(100, n // 100), kind=data)
    queries = mixture.queries(queries_n)
    folder = tempfile.mkdtemp(prefix=f"ann-{n}-{data}-", dir=work)
    try:
        index = SearchIndex.create(folder, dim)
        started = time.monotonic()
        for start, vectors in mixture.chunks(n, CHUNK):
            index.rows.write(np.arange(start, start + len(vectors)), vectors)
        index.rows.flush()
        generate_s = time.monotonic() - started
        truth, flat_ms = exact_top10(mixture, n, queries)
        plan = plan_for(n, dim)
        started = time.monotonic()
        index.rebuild(plan, np.arange(n))
        build_s = time.monotonic() - started
        del index
        index_mb = resident_after_load(folder)
        loaded = SearchIndex.load(folder)
        files_mb = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".faiss"))
        store_mb = os.path.getsize(os.path.join(folder, "vectors.f16")) / 2**20
        rows = []
        default = default_nprobe(plan.kind, plan.nlist)
        settings = [(p, None) for p in sorted({default, min(plan.nlist, default * 2)})]
        if sweep and plan.kind == "ivfpq":  # fewer lists, with the default and a twice longer shortlist
            settings += [(max(1, default * 3 // 4), None), (max(1, default * 3 // 4), 2 * shortlist_depth(10, n))]
        for nprobe, shortlist in settings:
            loaded.shards.set_nprobe(nprobe)
            found = loaded.search(queries, 10, shortlist=shortlist)[1]
            timing = latency(functools.partial(loaded.search, k=10, shortlist=shortlist), queries)
            rows.append({
                "vectors": n, "data": data, "index": plan.factory(dim), "nprobe": nprobe,
                "shortlist": shortlist or shortlist_depth(10, n) if plan.kind == "ivfpq" else None,
                "default": nprobe == default and shortlist is None, "recall_at_10": recall_at_10(found, truth),
                **timing, "flat_p50_ms": flat_ms, "speedup_vs_flat": flat_ms / timing["p50_ms"],
                "index_resident_mb": index_mb, "index_files_mb": files_mb / 2**20, "vector_store_mb": store_mb,
                "build_s": build_s, "generate_s": generate_s,
            })
            print_row(rows[-1])
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


COLUMNS = [("vectors", ">10", "vectors"), ("data", ">9", "data"), ("index", ">22", "index"), ("nprobe", ">6", "nprobe"),
           ("short", ">5", lambda row: row["shortlist"] or "-"), ("recall@10", ">9.4f", "recall_at_10"),
           ("p50 ms", ">7.2f", "p50_ms"), ("p99 ms", ">7.2f", "p99_ms"), ("flat ms", ">8.1f", "flat_p50_ms"),
           ("speed-up", ">8.1f", "speedup_vs_flat"), ("RSS MB", ">7.0f", "index_resident_mb"),
           ("build s", ">8.0f", "build_s")]


def print_row(row: dict) -> None:
    print(table_line(COLUMNS, row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", nargs="+", default=["clustered", "uniform"], choices=["clustered", "uniform"])
    parser.add_argument("--uniform-max", type=int, default=1_000_000, help="skip uniform data above this size")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", default=None, help="folder for the index files (default: temp)")
    parser.add_argument("--out", default=os.path.join(RESULTS, "ann.json"))
    parser.add_argument("--sweep", action="store_true", help="also 3/4 of the default nprobe, with a twice longer shortlist too")
    parser.add_argument("--measure-load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_load:
        import faiss  # the library itself is not the index

        before = anon_rss_mb()
        loaded = SearchIndex.load(args.measure_load)
        time.sleep(0.5)  # the kernel's per-thread RSS counters are folded in lazily
        print(anon_rss_mb() - before, len(loaded))
        return

    import faiss

    print(f"{os.cpu_count()} CPUs, faiss {faiss.__version__} with {faiss.omp_get_max_threads()} threads")
    print(table_header(COLUMNS))
    rows = []
    for n in args.sizes:
        for data in args.data:
            if data == "uniform" and n > args.uniform_max:
                continue
            rows += run(n, data, args.dim, args.queries, args.work or tempfile.gettempdir(), args.sweep)
            save_json(args.out, {"cpus": os.cpu_count(),  # after each size: a long run keeps what it measured
                                 "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                 "rows": rows}, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
