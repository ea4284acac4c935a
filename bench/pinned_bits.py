"""Whether this machine trains the same bits as another: a few pinned training steps of
clipdex-small, and a hash of the weights they leave, to compare across machines.

    python -m bench.pinned_bits [--steps 1] [--every-vendor] [--ops]
    qemu-x86_64 -cpu EPYC-Rome-v2 .venv/bin/python -m bench.pinned_bits   # another CPU, emulated

The steps run as the demo's do (api/cpu_kernels.py: AVX2 kernels, 2 threads, no oneDNN or
NNPACK, MKL reproducible across Intel CPUs), or with --every-vendor as `bench.quality --steps`
and `clipdex train --steps` do (MKL's COMPATIBLE code); MKL_CBWR set beforehand stands. Two
machines that print the same hash train the same model; qemu's user mode (minutes a step)
stands in for a CPU no machine here has (the cpu column is then the host's: /proc/cpuinfo is
not emulated). Measured, 2 steps: a native AMD EPYC (Zen 4), an emulated Intel Haswell and
an emulated AMD EPYC-Rome printed the same hash with --every-vendor; without it, an Intel CPU
and an AMD one differ from the first step. --ops hashes single operations too.
Prints a table and writes bench/results/pinned_bits.json.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time

from api.cpu_kernels import in_use, pin_kernels, pin_torch
from bench.common import cpu_flags, hub_offline, print_table, write_result


def op_hashes() -> dict[str, str]:
    """Hashes of single operations on seeded inputs: which of a step's ops a CPU changes."""
    import torch

    from retrieval.training.optimiser import adamw

    torch.manual_seed(0)
    a, b = torch.randn(300, 256), torch.randn(256, 384)
    layer = torch.nn.Linear(256, 384)
    layer(a).pow(2).sum().backward()
    parameter = torch.nn.Parameter(torch.randn(1000))
    parameter.grad = torch.randn(1000)
    adamw([parameter], lr=1e-3).step()  # fused, as training steps
    results = {"matmul": a @ b, "bmm": torch.bmm(torch.randn(16, 37, 32), torch.randn(16, 32, 37)),
               "conv2d": torch.nn.functional.conv2d(torch.randn(8, 3, 48, 48), torch.randn(128, 3, 8, 8), stride=8),
               "layer_norm": torch.nn.functional.layer_norm(a, (256,)), "softmax": torch.softmax(a, -1),
               "gelu": torch.nn.functional.gelu(a), "exp_log1p": torch.log1p(torch.exp(a)),
               "linear_grad": layer.weight.grad, "adamw_step": parameter}
    return {name: hashlib.sha256(value.detach().contiguous().numpy().tobytes()).hexdigest()[:16]
            for name, value in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1, help="training steps of 128 scenes (default 1)")
    parser.add_argument("--ops", action="store_true", help="also hash single operations")
    parser.add_argument("--every-vendor", action="store_true",
                        help="pin as bench.quality --steps does (MKL's COMPATIBLE code), not as the demo does")
    args = parser.parse_args()
    hub_offline()
    unpinned = pin_kernels(every_vendor=args.every_vendor)
    pin_torch()
    from retrieval.cpu_info import cpu_model
    from retrieval.datasets.shapes import COLOURLESS_SHARE, make_split
    from retrieval.training import TrainConfig, train
    from retrieval.training.model_dir import weights_digest

    images, captions, _ = make_split(128 * args.steps, 0, "train", colourless=COLOURLESS_SHARE)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clipdex-pinned-bits-") as out:
        result = train(images, captions, out, arch="clipdex-small",
                       config=TrainConfig(epochs=1, batch_size=128, lr=1e-3, seed=0, progress=False))
        row = {"cpu": cpu_model(), "kernels": in_use(), "steps": result.steps,
               "loss": result.history[-1].get("loss") if result.history else None,
               "weights": weights_digest(out)[:16], "seconds": time.monotonic() - started}
    if unpinned:
        print(f"note: {unpinned}")
    print_table([("cpu", "<28", "cpu"), ("kernels", "<62", "kernels"),
                 ("steps", ">5d", "steps"), ("loss", ">12.9f", "loss"), ("weights", "<16", "weights"),
                 ("seconds", ">7.0f", "seconds")], [row])
    ops = op_hashes() if args.ops else {}
    if ops:
        print_table([("operation", "<12", "op"), ("hash", "<16", "hash")], [{"op": k, "hash": v} for k, v in ops.items()])
    write_result("pinned_bits.json", {**row, "ops": ops, "cpu_flags": cpu_flags(), "pinned": unpinned is None})


if __name__ == "__main__":
    main()
