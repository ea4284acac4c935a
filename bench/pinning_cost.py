"""What pinning a training step costs: clipdex-small's step as torch picks its kernels, pinned
as the demo is (AVX2 kernels, 2 threads, MKL reproducible across Intel CPUs) and pinned as
`bench.quality --steps` is (MKL's COMPATIBLE code, the same on every x86-64 CPU).

    python -m bench.pinning_cost [--steps 20] [--rounds 3] [--batch-size 128]

Kernels are chosen when torch is imported, so each measurement is a process of its own
(bench.train_step's profile of a step), the three kinds in turns, --rounds times; the
fastest round of each counts, against the unpinned one measured in the same run. Prints a
table with each phase of a step in ms and writes bench/results/pinning_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from api.cpu_kernels import PINNED_VARIABLES, in_use, pin_kernels, pin_torch
from bench.common import cpu_flags, hub_offline, print_table, write_result

PINNINGS = ("none", "intel", "every vendor")
PHASES = ("image", "text", "loss", "backward", "optimiser")


def child(pinning: str, steps: int, batch: int) -> None:
    if pinning != "none":
        unpinned = pin_kernels(every_vendor=pinning == "every vendor")
        if unpinned:
            raise SystemExit(f"cannot pin: {unpinned}")
        pin_torch()
    import torch

    from bench.train_step import profile
    from retrieval.models import register_clipdex_configs

    register_clipdex_configs()
    torch.manual_seed(0)
    print(json.dumps({**profile("clipdex-small", steps, batch), "kernels": in_use()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--child", choices=PINNINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    hub_offline()
    if args.child:
        return child(args.child, args.steps, args.batch_size)
    env = {k: v for k, v in os.environ.items() if k not in PINNED_VARIABLES}  # each child pins its own way
    runs = {pinning: [] for pinning in PINNINGS}
    for _ in range(args.rounds):
        for pinning in PINNINGS:
            out = subprocess.run([sys.executable, "-m", "bench.pinning_cost", "--child", pinning,
                                  "--steps", str(args.steps), "--batch-size", str(args.batch_size)],
                                 env=env, capture_output=True, text=True, check=True)
            runs[pinning].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = [{"pinning": pinning, **min(measured, key=lambda row: row["step_ms"])} for pinning, measured in runs.items()]
    for row in rows:
        row["cost"] = row["step_ms"] / rows[0]["step_ms"]
    print(f"\nclipdex-small, {args.steps} steps of batch {args.batch_size}, fastest of {args.rounds} rounds in turns; "
          f"{os.cpu_count()} CPUs, {' '.join(cpu_flags())}")
    print_table([("pinning", "<13s", "pinning"), ("kernels", "<60s", "kernels")]
                + [(f"{phase} ms", "10.1f", f"{phase}_ms") for phase in PHASES]
                + [("step ms", "8.1f", "step_ms"), ("cost", "6.2f", "cost")], rows)
    write_result("pinning_cost.json", {"steps": args.steps, "batch_size": args.batch_size, "rounds": args.rounds,
                                       "cpu_flags": cpu_flags(), "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()
