"""Retrieval quality of a model clipdex trains itself on synthetic shapes, on held-out data.

    python -m bench.quality [--train 20000] [--minutes 9 | --steps 2000 [--native-kernels]]
                            [--arch clipdex-small] [--colourless 0.25] [--out /tmp/clipdex-quality-model]

Trains clipdex-small from scratch on the shapes training split (which never shows the
held-out colour x shape pairs; --colourless of its scenes are drawn in grey and captioned
without colours) within a time budget, or for a fixed number of steps, to compare machines
by steps: such a run holds torch to the kernels and threads the demo is held to, and MKL to
the code every x86-64 CPU runs alike (api/cpu_kernels.py, every_vendor: 2.4x a step), so
that another machine, Intel or AMD, trains the same model to the bit (--native-kernels lets
torch and MKL choose: faster, and then the run differs across CPUs). Then reports on 1,000
held-out scenes with distinct captions: text->image and image->text recall@1/5/10, and
zero-shot colour x shape accuracy on single objects of the held-out pairs. Prints a table
and writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import os
import time

from api.cpu_kernels import in_use, pin_kernels, pin_torch
from bench.common import QUALITY_MODEL, cpu_flags, hub_offline, write_result

GOALS = {"text->image R@1": 0.8, "text->image R@10": 0.9, "image->text R@1": 0.5, "held-out zero-shot accuracy": 0.8}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=9.0, help="the time budget (without --steps)")
    parser.add_argument("--steps", type=int, help="train this many steps instead, whatever the time")
    parser.add_argument("--native-kernels", action="store_true",
                        help="with --steps: the kernels torch picks for this CPU (the run may then differ on another)")
    parser.add_argument("--arch", default="clipdex-small")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--colourless", type=float, default=None,
                        help="share of training scenes drawn in grey, captioned without colours (default: COLOURLESS_SHARE)")
    parser.add_argument("--out", default=QUALITY_MODEL)
    args = parser.parse_args()
    hub_offline()
    pinned = bool(args.steps) and not args.native_kernels
    if pinned:
        unpinned = pin_kernels(every_vendor=True)  # before torch is imported
        if unpinned:
            print(f"note: {unpinned}; this run may differ from one on another kind of CPU")
            pinned = False  # (threads and libraries are still held, the kernels are not)
        pin_torch()

    import torch

    from retrieval.datasets.shapes import COLOURLESS_SHARE, colour_shape_labels, make_split
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model
    from retrieval.training import EvalData, TrainConfig, evaluate, train

    colourless = COLOURLESS_SHARE if args.colourless is None else args.colourless
    images, captions, _ = make_split(args.train, 0, "train", colourless=colourless)
    test_images, test_captions, _ = make_split(args.test, 0, "test", distinct=True)
    held_images, _, held_scenes = make_split(500, 0, "heldout")
    labels = colour_shape_labels()
    targets = [labels.index(f"{s[0].colour} {s[0].shape}") for s in held_scenes]

    started = time.perf_counter()
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, progress=True,
                         max_seconds=None if args.steps else args.minutes * 60, max_steps=args.steps)
    result = train(images, captions, args.out, arch=args.arch, config=config,
                   on_epoch=lambda r: print(f"epoch {r['epoch']} step {r['step']} loss {r['loss']:.3f} "
                                            f"({r['seconds']:.0f}s)", flush=True))
    train_seconds = time.perf_counter() - started

    encoder = TorchEncoder(load_model(args.out), device="cpu", batch_size=256)
    metrics = evaluate(encoder, EvalData(test_images, test_captions))
    zero_shot = evaluate(encoder, EvalData(held_images, [f"scene {i}" for i in range(len(held_images))],
                                          labels=labels, targets=targets, templates=["a small {}", "a large {}"]))
    metrics["held-out zero-shot accuracy"] = zero_shot["zero-shot accuracy"]

    steps_per_second = result.steps / train_seconds
    kernels = in_use()
    print(f"\n{args.arch} trained from scratch on {args.train:,} shapes scenes for {train_seconds / 60:.1f} min: "
          f"{result.steps} steps, {steps_per_second:.2f} steps/s (data preparation included); "
          f"{os.cpu_count()} CPUs, {' '.join(cpu_flags())}; torch: {kernels}{' (pinned)' if pinned else ''}")
    print(f"{colourless:.0%} of the training scenes in grey without colour words; held out: {args.test} scenes with "
          "distinct captions, 500 single objects of held-out colour x shape pairs")
    print(f"{'metric':32s} {'value':>7s} {'goal':>7s}")
    for name, value in metrics.items():
        goal = GOALS.get(name)
        print(f"{name:32s} {value:7.3f} {f'>= {goal:.2f}' if goal else '':>7s} {'' if goal is None else ('met' if value >= goal else 'NOT met')}")
    write_result("quality.json", {"arch": args.arch, "train": args.train, "colourless": colourless, "test": args.test,
                                  "train_seconds": train_seconds, "steps": result.steps,
                                  "steps_per_second": steps_per_second, "cpus": os.cpu_count(),
                                  "cpu_flags": cpu_flags(), "torch_kernels": kernels, "pinned": pinned,
                                  "threads": torch.get_num_threads(), "metrics": metrics, "goals": GOALS,
                                  "history": result.history})


if __name__ == "__main__":
    main()
