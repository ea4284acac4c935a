"""HTTP text search: queries/s and latency with 1 and 8 concurrent clients on loopback.

    python -m bench.api [--images 100000] [--model random:ViT-B-32] [--queries 200]

Builds a collection of synthetic vectors (clustered on the unit sphere, like real
CLIP embeddings) with one metadata row each, starts `clipdex serve` on it, and
drives /v1/search/text. The time split (text encoding / index search / metadata
lookup) comes from the server's Server-Timing header. Prints a table and writes
bench/results/api.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import time

from bench.common import hub_offline, print_table, temp_path, write_result


def clustered_unit_vectors(n: int, dim: int, clusters: int = 1000, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.35 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(data_dir: str, n: int, spec: str, dim: int) -> None:
    from indexer.collection import Collection
    from indexer.ingest.scan import FoundFile
    from indexer.store import OK, RowUpdates

    collection = Collection(data_dir)
    if collection.model_spec:
        return
    collection.store.insert_pending(FoundFile(f"/photos/synthetic/{i:07d}.jpg", 1000, i) for i in range(n))
    ids = [file_id for file_id, _ in collection.store.pending()]
    updates = RowUpdates.empty()
    for file_id in ids:
        updates.done(file_id, status=OK, vector_id=file_id, width=640, height=480, content_hash=f"{file_id:064x}")
    collection.store.apply(updates)
    collection.bind_model(spec, dim)
    index = collection.load_index()
    index.add(ids, clustered_unit_vectors(n, dim))
    collection.save_index()
    collection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drive(url: str, clients: int, queries: int) -> dict:
    import httpx

    words = ["dog", "beach", "red car", "mountain at dusk", "a cat on a sofa", "city street", "birthday cake"]
    latencies, splits = [], {"encode": [], "search": [], "lookup": []}

    def one(i: int, http) -> None:
        started = time.perf_counter()
        response = http.post("/v1/search/text", json={"query": f"{words[i % len(words)]} {i}", "k": 10})
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        for part in response.headers["server-timing"].split(","):
            name, _, duration = part.strip().partition(";dur=")
            splits[name].append(float(duration))

    def client(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(offset, queries, clients):
                one(i, http)

    with httpx.Client(base_url=url, timeout=60) as http:  # warm-up
        for i in range(10):
            one(i, http)
    latencies.clear()
    for values in splits.values():
        values.clear()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "queries": len(latencies),
        "qps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        **{f"{name}_ms": statistics.mean(values) for name, values in splits.items() if values},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", default=temp_path("clipdex-api-bench"))
    args = parser.parse_args()
    hub_offline()

    from retrieval.models import load_model

    dim = load_model(args.model).embed_dim
    data_dir = os.path.join(args.work, f"{args.model.replace(':', '_').replace('/', '_')}_{args.images}")
    started = time.perf_counter()
    build(data_dir, args.images, args.model, dim)
    print(f"collection of {args.images:,} vectors ready in {time.perf_counter() - started:.0f}s", flush=True)

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--data-dir", data_dir, "--port", str(port)],
        env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/v1/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("the server did not become ready")
            time.sleep(0.3)
        rows = [drive(url, clients, args.queries) for clients in (1, 8)]
    finally:
        server.terminate()
        server.wait(10)

    print(f"\nclipdex HTTP text search: {args.images:,} images, {args.model}, loopback, {os.cpu_count()} CPUs")
    print_table([("clients", "7d", "clients"), ("queries/s", "10.1f", "qps"), ("p50 ms", "8.1f", "p50_ms"),
                 ("p99 ms", "8.1f", "p99_ms"), ("encode ms", "10.1f", lambda row: row.get("encode_ms", 0)),
                 ("search ms", "10.2f", lambda row: row.get("search_ms", 0)),
                 ("lookup ms", "10.2f", lambda row: row.get("lookup_ms", 0))], rows)
    write_result("api.json", {"images": args.images, "model": args.model, "cpus": os.cpu_count(), "rows": rows})


if __name__ == "__main__":
    main()
