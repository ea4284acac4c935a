"""A batch of pictures through ONNX Runtime as two halves at once (one thread each) against
the whole batch on all threads, as the image tower ran before.

    python -m bench.halves [--model random:ViT-B-32-256] [--batch 32] [--rounds 5]

Both run the same export in one process, in turns (a busy moment of a shared machine falls on
both alike), for fp32 and int8. Prints images/s and the ratio per precision, and the largest
difference between the two ways' vectors; writes bench/results/halves.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from bench.common import cpu_flags, hub_offline, print_table, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="random:ViT-B-32-256")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--onnx-cache", default=None, help="where the exports are (default: a temporary folder)")
    args = parser.parse_args()
    hub_offline()
    cache = args.onnx_cache or tempfile.mkdtemp(prefix="clipdex-halves-onnx-")

    from retrieval.encoders.base import unit_rows
    from retrieval.encoders.calibration import calibration_pixels
    from retrieval.encoders.onnx_encoder import OnnxEncoder, cached_onnx_encoder

    rows = []
    for precision in ("fp32", "int8"):
        encoder = cached_onnx_encoder(args.model, precision, cache)
        if encoder is None:  # no export yet: make one (this loads the PyTorch model once)
            from retrieval.models import load_model

            encoder = OnnxEncoder.exporting(load_model(args.model), precision, cache_root=cache)
        if not encoder.runs_halves:
            raise SystemExit("halves need at least two cores")
        pixels = calibration_pixels(encoder.loaded.preprocess, encoder.loaded.image_size, count=args.batch)
        ways = {  # what the tower ran before: the whole batch through the session with every thread
            "whole batch, all threads": lambda: unit_rows(encoder._session("image").run(None, {"pixels": pixels})[0]),
            "two halves at once": lambda: encoder.embed_pixels(pixels),
        }
        vectors = {name: way() for name, way in ways.items()}  # first runs open the sessions
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                started = time.perf_counter()
                way()
                seconds[name].append(time.perf_counter() - started)
        rates = {name: args.batch / statistics.median(times) for name, times in seconds.items()}
        difference = float(np.max(np.abs(vectors["two halves at once"] - vectors["whole batch, all threads"])))
        for name in ways:
            rows.append({"precision": precision, "way": name, "images_per_s": rates[name],
                         "ratio": rates[name] / rates["whole batch, all threads"], "max_difference": difference,
                         "runs_s": [round(s, 3) for s in seconds[name]]})
    print(f"{args.model}, batches of {args.batch}, {os.cpu_count()} CPUs, flags: {' '.join(cpu_flags())}")
    print_table([("precision", "<9s", "precision"), ("way", "<26s", "way"), ("images/s", "9.1f", "images_per_s"),
                 ("ratio", "6.2f", "ratio"), ("max |diff|", "11.2e", "max_difference")], rows)
    write_result("halves.json", {"model": args.model, "batch": args.batch, "cpus": os.cpu_count(),
                                 "cpu_flags": cpu_flags(), "rows": rows})


if __name__ == "__main__":
    main()
