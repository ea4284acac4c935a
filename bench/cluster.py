"""`clipdex index` in one process against `clipdex index --ray` on this machine, and what
a 100-million-image job would take on N GPU nodes.

    python -m bench.cluster [--images 2000] [--model random:ViT-B-32] [--batch-size 64] [--ray-workers 2]
                            [--backend torch|onnx|onnx-int8]

Rows, in one run, the same model (--backend, random weights) and images (64-256 px, 3/4 JPEG,
1/4 PNG) for both:
  single process     index_folders: decode worker processes + the model in this process
  ray, N workers     index_folders_ray on a local Ray instance with all cores: decode tasks,
                     N encoder actors, shards written and committed by the driver
  ray, N, all cores  (ONNX only) the same with every actor's ONNX Runtime on all the cores
  ray, fixed cost    the Ray run of 32 images: actor start and model load, paid once per wave

The estimate of a 100M-image job (printed and in the JSON) takes the per-GPU model rate
and the per-core CPU decode cost measured on an H100 machine (bench/measured/gpu_ingest.h100.json),
the driver's commit cost per 1,000 files and the fixed cost per wave measured here, and
does the arithmetic for N nodes; see ``estimate``. Writes bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time

from bench.common import MEASURED, hub_offline, print_table, temp_path, write_result
from bench.photos import photo_like

SIZES = ((256, 192), (128, 96), (64, 64), (192, 256), (200, 150), (96, 128))
FILES_PER_WAVE = 256 * 4096  # RayOptions: shards_per_wave x shard_files


class Encoders:
    """The encoder factory both modes use; pickled (by value: this is __main__) to the actors.

    ``threads``: ONNX Runtime threads per encoder; None follows torch's count, which a Ray
    actor sets to its share of the cores (0: every physical core, what each actor took
    before that, kept as a baseline row)."""

    def __init__(self, spec: str, batch_size: int, device: str, backend: str, threads: int | None = None):
        self.spec, self.batch_size, self.device = spec, batch_size, device
        self.backend, self.threads = backend, threads

    def __call__(self):
        from retrieval.encoders.backend import make_encoder
        from retrieval.models import load_model

        threads = (os.cpu_count() or 1) if self.threads == 0 else self.threads
        return make_encoder(load_model(self.spec), self.backend, device=self.device, batch_size=self.batch_size,
                            threads=threads)


def make_images(folder: str, count: int) -> int:
    """``count`` photo-like images; returns their total bytes."""
    os.makedirs(folder, exist_ok=True)
    total = 0
    for i in range(count):
        width, height = SIZES[i % len(SIZES)]
        path = os.path.join(folder, f"img_{i:06d}.{'png' if i % 4 == 3 else 'jpg'}")
        if not os.path.exists(path):
            image = photo_like(i, width, height)
            if path.endswith(".jpg"):
                image.save(path, quality=88)
            else:
                image.save(path)
        total += os.path.getsize(path)
    return total


class CommitClock:
    """Seconds the driver spends recording results and checkpointing (index + SQL rows)."""

    def __init__(self):
        from indexer.ingest.results import ResultWriter

        self.seconds = 0.0
        for name in ("record", "checkpoint"):
            original = getattr(ResultWriter, name)

            def timed(writer, *args, _original=original, **kwargs):
                started = time.perf_counter()
                try:
                    return _original(writer, *args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started

            setattr(ResultWriter, name, timed)


def run(mode: str, folder: str, factory, batch_size: int, workers: int, clock: CommitClock) -> dict:
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from indexer.ingest.ray_pass import RayOptions, index_folders_ray

    data = tempfile.mkdtemp(prefix="clipdex-cluster-")
    collection = Collection(data)
    options = IndexOptions(batch_size=batch_size, progress=False)
    clock.seconds = 0.0
    started = time.perf_counter()
    try:
        if mode == "single":
            report = index_folders(collection, [folder], factory.spec, factory, options)
        else:
            report = index_folders_ray(collection, [folder], factory.spec, factory, options,
                                       RayOptions(workers=workers))
        seconds = time.perf_counter() - started
    finally:
        collection.close()
        shutil.rmtree(data, ignore_errors=True)
    return {"embedded": report.embedded, "failed": report.failed, "seconds": seconds,
            "images_per_s": report.embedded / seconds, "commit_seconds": clock.seconds}


def estimate(gpu_json: str, commit_s_per_1k: float, wave_fixed_s: float, images: float = 100e6,
             gpus_per_node: int = 8, cores_per_node: int = 192, nodes=(1, 2, 4, 8, 16),
             bytes_per_image: float = 150e3) -> dict:
    """A 100M-image `clipdex index --ray` job on N nodes of ``gpus_per_node`` H100s.

    The Ray path decodes with PIL in CPU tasks, so a node's rate is the smaller of what
    its GPUs embed and what its cores decode; the one driver that commits vectors and rows
    caps the whole cluster; each wave of ~1M files pays the actor start once.
    """
    with open(gpu_json) as handle:
        measured = json.load(handle)
    rows = {(r["model"], r["row"]): r for r in measured["rows"]}
    gpu_rate = rows[("ViT-B-32", "model only (tensors on GPU)")]["images_per_s"]
    cpu_path = rows[("ViT-B-32", "clipdex index, CPU decode")]
    decode_core_s_per_1k = cpu_path["workers_cpu_s_per_1k"]
    per_core = 1000.0 / decode_core_s_per_1k
    decode_cores = cores_per_node - gpus_per_node  # one core feeds each GPU actor
    node_decode = decode_cores * per_core
    node_gpu = gpus_per_node * gpu_rate
    node_rate = min(node_decode, node_gpu)
    driver_rate = 1000.0 / commit_s_per_1k
    waves = math.ceil(images / FILES_PER_WAVE)
    out = {
        "images": images,
        "inputs": {
            "gpu_images_per_s": gpu_rate,  # ViT-B-32 model only, H100, bf16
            "decode_core_s_per_1k": decode_core_s_per_1k,  # PIL decode + resize of 500-1024 px photos
            "decode_images_per_s_per_core": per_core,
            "gpus_per_node": gpus_per_node,
            "cores_per_node": cores_per_node,  # assumed: 8x H100 nodes commonly have 192 vCPUs
            "driver_commit_s_per_1k": commit_s_per_1k,  # measured here
            "fixed_s_per_wave": wave_fixed_s,  # measured here
            "files_per_wave": FILES_PER_WAVE,
            "bytes_per_image": bytes_per_image,  # assumed
        },
        "per_node": {
            "gpu_images_per_s": node_gpu, "decode_images_per_s": node_decode, "images_per_s": node_rate,
            "cores_to_feed_its_gpus": node_gpu / per_core,
            "bound": "cpu decode" if node_decode < node_gpu else "gpu",
        },
        "driver_images_per_s": driver_rate,
        "rows": [],
    }
    for n in nodes:
        rate = min(n * node_rate, driver_rate)
        seconds = images / rate + waves * wave_fixed_s
        out["rows"].append({
            "nodes": n, "gpus": n * gpus_per_node, "nodes_images_per_s": n * node_rate, "images_per_s": rate,
            "bound": "driver commit" if driver_rate < n * node_rate else out["per_node"]["bound"],
            "hours": seconds / 3600, "read_gb_per_s": rate * bytes_per_image / 1e9,
        })
    return out


def print_estimate(est: dict) -> None:
    i, node = est["inputs"], est["per_node"]
    gpus, cores, per_core = i["gpus_per_node"], i["cores_per_node"], i["decode_images_per_s_per_core"]
    print(f"\n100M images with `clipdex index --ray` on nodes of {gpus} H100 + {cores} cores (ViT-B-32):")
    print(f"  decode per core  1000 / {i['decode_core_s_per_1k']:.2f} CPU-s per 1k = {per_core:.1f} images/s")
    print(f"  per node         GPUs {gpus} x {i['gpu_images_per_s']:,.0f} = {node['gpu_images_per_s']:,.0f}/s; "
          f"decode ({cores} - {gpus}) cores x {per_core:.1f} = {node['decode_images_per_s']:,.0f}/s "
          f"-> {node['images_per_s']:,.0f}/s ({node['bound']} bound; "
          f"{node['cores_to_feed_its_gpus']:,.0f} cores would feed its GPUs)")
    print(f"  driver commit    1000 / {i['driver_commit_s_per_1k']:.3f} s per 1k = "
          f"{est['driver_images_per_s']:,.0f} images/s (one process writes the index and the SQL rows)")
    print(f"  waves            100M / {i['files_per_wave']:,} = {math.ceil(est['images'] / i['files_per_wave'])} x "
          f"{i['fixed_s_per_wave']:.1f} s fixed cost")
    print_table([("nodes", "5d", "nodes"), ("GPUs", "5d", "gpus"), ("nodes/s", "10,.0f", "nodes_images_per_s"),
                 ("images/s", "10,.0f", "images_per_s"), ("bound", ">14s", "bound"), ("hours", "7.2f", "hours"),
                 ("read GB/s", "10.2f", "read_gb_per_s")], est["rows"], indent="  ")
    print(f"  nodes/s = nodes x per-node rate; images/s = min(nodes/s, driver rate);"
          f" hours = 100e6 / images/s / 3600 + waves x fixed cost; "
          f"read GB/s at {i['bytes_per_image'] / 1e3:.0f} kB per image")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--model", default="random:ViT-B-32")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ray-workers", type=int, nargs="+", default=[2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--work", default=temp_path("clipdex-bench-cluster"))
    parser.add_argument("--cores-per-node", type=int, default=192)
    args = parser.parse_args()
    hub_offline()

    import ray
    import torch

    folder = os.path.join(args.work, f"images_{args.images}")
    total_bytes = make_images(folder, args.images)
    tiny = os.path.join(args.work, "images_32")
    make_images(tiny, 32)
    factory = Encoders(args.model, args.batch_size, args.device, args.backend)
    clock = CommitClock()

    rows = [{"mode": "single process", **run("single", folder, factory, args.batch_size, 0, clock)}]
    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="WARNING")
    ray_init = time.perf_counter() - started
    for workers in args.ray_workers:
        rows.append({"mode": f"ray, {workers} workers", "workers": workers,
                     **run("ray", folder, factory, args.batch_size, workers, clock)})
        if args.backend != "torch":  # baseline: every actor's ONNX Runtime on all the cores
            every_core = Encoders(args.model, args.batch_size, args.device, args.backend, threads=0)
            rows.append({"mode": f"ray, {workers}, all cores", "workers": workers,
                         **run("ray", folder, every_core, args.batch_size, workers, clock)})
    fixed = run("ray", tiny, factory, args.batch_size, args.ray_workers[-1], clock)
    ray.shutdown()
    single = rows[0]["images_per_s"]
    for row in rows:
        row["ratio"] = row["images_per_s"] / single
    commit_s_per_1k = 1000 * rows[1]["commit_seconds"] / rows[1]["embedded"]

    print(f"\nclipdex index, one process vs Ray: {args.images} images 64-256 px ({total_bytes / args.images / 1e3:.1f} kB"
          f" avg), {args.model} ({args.backend}), batch {args.batch_size}, device {args.device}, cpus {os.cpu_count()}, "
          f"torch threads {torch.get_num_threads()}")
    print_table([("mode", "18s", "mode"), ("images", "7d", "embedded"), ("seconds", "8.1f", "seconds"),
                 ("images/s", "9.1f", "images_per_s"), ("ratio", "6.2f", "ratio")], rows)
    print(f"(Ray start {ray_init:.1f} s, not counted; a 32-image Ray run, the fixed cost of a wave, "
          f"took {fixed['seconds']:.1f} s; driver commit {commit_s_per_1k:.3f} s per 1k files)")

    est = estimate(os.path.join(MEASURED, "gpu_ingest.h100.json"), commit_s_per_1k, fixed["seconds"],
                   cores_per_node=args.cores_per_node)
    print_estimate(est)
    result = {"model": args.model, "backend": args.backend, "images": args.images, "image_bytes_avg": total_bytes / args.images,
              "batch_size": args.batch_size, "device": args.device, "cpus": os.cpu_count(),
              "torch_threads": torch.get_num_threads(), "ray_version": ray.__version__, "ray_init_seconds": ray_init,
              "rows": rows, "ray_fixed_cost_32_images": fixed, "driver_commit_s_per_1k": commit_s_per_1k,
              "estimate_100m": est}
    write_result("cluster.json" if args.backend == "torch" else f"cluster.{args.backend}.json", result)


if __name__ == "__main__":
    main()
