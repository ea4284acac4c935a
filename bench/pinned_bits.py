"""Whether this machine trains the pinned demo's bits: a few pinned training steps of
clipdex-small, and a hash of the weights they leave, to compare across machines.

    python -m bench.pinned_bits [--steps 1]
    qemu-x86_64 -cpu EPYC-Rome-v2 .venv/bin/python -m bench.pinned_bits   # another CPU, emulated

The steps run as the demo's and `bench.quality --steps` do (api/cpu_kernels.py: AVX2 kernels,
2 threads, no oneDNN or NNPACK, MKL in its reproducible mode; MKL_CBWR set beforehand stands).
Two machines that print the same hash train the same model; a slow emulator (qemu's user mode,
about 11 minutes a step here) stands in for a CPU no machine here has. Measured on the Xeon:
the native run and an emulated Intel Haswell gave the same hash, an emulated AMD EPYC-Rome
another (under qemu's user mode the cpu column is the host's: /proc/cpuinfo is not emulated).
Prints a table and writes bench/results/pinned_bits.json.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time

from api.cpu_kernels import in_use, pin_kernels, pin_torch
from bench.common import cpu_flags, hub_offline, print_table, write_result


def weights_hash(model_dir: str) -> str:
    import torch

    digest = hashlib.sha256()
    state = torch.load(os.path.join(model_dir, "open_clip_pytorch_model.bin"), map_location="cpu")
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1, help="training steps of 128 scenes (default 1)")
    args = parser.parse_args()
    hub_offline()
    unpinned = pin_kernels()
    pin_torch()
    from retrieval.cpu_info import cpu_model
    from retrieval.datasets.shapes import COLOURLESS_SHARE, make_split
    from retrieval.training import TrainConfig, train

    images, captions, _ = make_split(128 * args.steps, 0, "train", colourless=COLOURLESS_SHARE)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clipdex-pinned-bits-") as out:
        result = train(images, captions, out, arch="clipdex-small",
                       config=TrainConfig(epochs=1, batch_size=128, lr=1e-3, seed=0, progress=False))
        row = {"cpu": cpu_model(), "kernels": in_use(), "mkl_cbwr": os.environ.get("MKL_CBWR"),
               "steps": result.steps, "loss": result.history[-1].get("loss") if result.history else None,
               "weights": weights_hash(out), "seconds": time.monotonic() - started}
    if unpinned:
        print(f"note: {unpinned}")
    print_table([("cpu", "<28", "cpu"), ("kernels", "<46", "kernels"), ("MKL_CBWR", "<12", "mkl_cbwr"),
                 ("steps", ">5d", "steps"), ("loss", ">12.9f", "loss"), ("weights", "<16", "weights"),
                 ("seconds", ">7.0f", "seconds")], [row])
    write_result("pinned_bits.json", {**row, "cpu_flags": cpu_flags(), "pinned": unpinned is None})


if __name__ == "__main__":
    main()
