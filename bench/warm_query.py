"""A warm query's encoding, before and after searches stopped needing torch.

    python -m bench.warm_query [--model random:ViT-B-32] [--queries 300]

In one process, on the same exported ONNX towers, in turns: the encoder built from the
PyTorch model (open_clip's tokenizer and transform; what `clipdex serve` ran before) and
the one built from the export alone (numpy tokenizer and transform; what it runs now).
Text: one query at a time, as a search sends it; image: one 640x480 picture. Prints
median and p95 latency and writes bench/results/warm_query.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from bench.common import cpu_flags, hub_offline, print_table, write_result
from bench.cpu_ingest import QUERIES


def _latencies(encoders: dict, work, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in encoders}
    for i in range(rounds):
        for name, encoder in encoders.items():  # in turns: a busy moment falls on both
            started = time.perf_counter()
            work(encoder, i)
            out[name].append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    hub_offline()

    from bench.photos import photo_like
    from retrieval.encoders.backend import cached_encoder, make_encoder
    from retrieval.models import load_model

    cache = tempfile.mkdtemp(prefix="clipdex-warm-")
    encoders = {"before (PyTorch model's parts)": make_encoder(load_model(args.model), "onnx", "cpu", onnx_cache=cache),
                "now (export alone)": cached_encoder(args.model, "onnx", "cpu", onnx_cache=cache)}
    pictures = [photo_like(seed, 640, 480) for seed in range(8)]
    for encoder in encoders.values():  # sessions made, caches warm
        encoder.embed_texts(QUERIES[:5])
        encoder.embed_images(pictures[:1])
    text = _latencies(encoders, lambda e, i: e.embed_texts([QUERIES[i % len(QUERIES)]]), args.queries)
    image = _latencies(encoders, lambda e, i: e.embed_images([pictures[i % len(pictures)]]), args.queries // 3)
    rows = []
    for name in encoders:
        for what, found in (("text query", text[name]), ("image query", image[name])):
            ordered = sorted(found)
            rows.append({"encoder": name, "what": what, "median_ms": statistics.median(found),
                         "p95_ms": ordered[int(0.95 * (len(ordered) - 1))]})
    print(f"{args.model}, CPU flags: {' '.join(cpu_flags())}")
    print_table([("encoder", "<32s", "encoder"), ("what", "<12s", "what"), ("median ms", "10.1f", "median_ms"),
                 ("p95 ms", "8.1f", "p95_ms")], rows)
    write_result("warm_query.json", {"model": args.model, "cpu_flags": cpu_flags(), "rows": rows})


if __name__ == "__main__":
    main()
