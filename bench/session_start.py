"""How long a cold search waits for the text tower: opening the export as before (ONNX Runtime
optimises its graph then) against opening the graph saved already optimised (ort_sessions.py).

    python -m bench.session_start [--model random:ViT-B-32-256] [--repeats 7]

Exports the model's towers into a temporary folder, then opens the text tower both ways in
turn, ``--repeats`` times each, and runs one query on each session (the vectors must be the
same to the bit). Prints a table of median milliseconds and the ratio, with the CPU's flags,
and writes bench/results/session_start.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from bench.common import cpu_flags, hub_offline, print_table, write_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="random:ViT-B-32-256")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    hub_offline()

    import numpy as np
    import onnxruntime as ort

    from retrieval.encoders.onnx_export import exported
    from retrieval.encoders.ort_sessions import open_session, saved_graph_path
    from retrieval.models import load_model

    folder = tempfile.mkdtemp(prefix="clipdex-bench-sessions-")
    try:
        loaded = load_model(args.model)
        path = exported(loaded, "fp32", folder)["text"]
        tokens = np.asarray(loaded.tokenizer(["a dog on a beach"]), np.int64)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        open_session(path, options)  # the first search of a collection: optimises and saves

        ways = {"export, optimised at start (before)": lambda: ort.InferenceSession(
                    path, options, providers=["CPUExecutionProvider"]),
                "saved optimised graph (now)": lambda: open_session(path, options)}
        times = {name: {"start": [], "query": []} for name in ways}
        vectors = {}
        for _ in range(args.repeats):
            for name, start in ways.items():
                began = time.perf_counter()
                session = start()
                opened = time.perf_counter()
                vectors[name] = session.run(None, {"tokens": tokens})[0]
                times[name]["start"].append((opened - began) * 1000)
                times[name]["query"].append((time.perf_counter() - opened) * 1000)
        saved_kb = os.path.getsize(saved_graph_path(path)) / 1024
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    before, now = ways
    rows = [{"way": name, "start_ms": statistics.median(t["start"]), "query_ms": statistics.median(t["query"]),
             "starts": [round(x, 1) for x in t["start"]]} for name, t in times.items()]
    print(f"{args.model} text tower, {args.repeats} opens each way, in turn; CPU flags: {' '.join(cpu_flags())}")
    print_table([("way", "<38s", "way"), ("start ms", "9.0f", "start_ms"), ("1st query ms", "12.1f", "query_ms")], rows)
    ratio = rows[1]["start_ms"] / rows[0]["start_ms"]
    same = bool(np.array_equal(vectors[before], vectors[now]))
    print(f"saved graph {saved_kb:.0f} KB; start now / before: {ratio:.2f}; the same vectors to the bit: {same}")
    write_result("session_start.json", {"model": args.model, "repeats": args.repeats, "cpu_flags": cpu_flags(),
                                        "cpus": os.cpu_count(), "rows": rows, "start_ratio_now_over_before": ratio,
                                        "same_vectors": same, "saved_graph_kb": saved_kb})


if __name__ == "__main__":
    main()
