"""Fine-tuning: a model that knows half the shapes vocabulary learns the other half from
at most 500 pairs, without forgetting the first.

    python -m bench.finetune [--base-minutes 4] [--pairs 500]

Half A: scenes in red, green and blue; half B: yellow, purple and orange. A model
trained from scratch on A is fine-tuned on a few B pairs. Recall@10 (text->image, 500
held-out scenes with distinct captions per half) before and after. Goal: R@10 on B
rises; R@10 on A drops by no more than 5 points. Prints a table and writes
bench/results/finetune.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from bench.common import hub_offline, temp_path, write_result

HALF_A = ("red", "green", "blue")
HALF_B = ("yellow", "purple", "orange")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-minutes", type=float, default=4.0)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--mode", default="last", choices=("full", "proj", "last", "lora"))
    parser.add_argument("--work", default=temp_path("clipdex-finetune"))
    args = parser.parse_args()
    hub_offline()

    from retrieval.datasets.shapes import make_split
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model
    from retrieval.training import EvalData, TrainConfig, evaluate, train

    def held_out(colours, seed):
        images, captions, _ = make_split(500, seed, "test", distinct=True, colours=colours)
        return EvalData(images, captions)

    eval_a, eval_b = held_out(HALF_A, 11), held_out(HALF_B, 12)

    def r10(model_dir):
        encoder = TorchEncoder(load_model(model_dir), device="cpu", batch_size=256)
        return {half: evaluate(encoder, data)["text->image R@10"] for half, data in (("A", eval_a), ("B", eval_b))}

    base_dir = os.path.join(args.work, "base")
    if not os.path.exists(os.path.join(base_dir, "DONE")):
        images, captions, _ = make_split(20000, 0, "train", colours=HALF_A)
        train(images, captions, base_dir, arch="clipdex-small",
              config=TrainConfig(epochs=40, max_seconds=args.base_minutes * 60, progress=False))
        open(os.path.join(base_dir, "DONE"), "w").close()
    before = r10(base_dir)

    tuned_dir = os.path.join(args.work, f"tuned-{args.mode}-{args.pairs}-{args.lr:g}-{args.epochs}")
    shutil.rmtree(tuned_dir, ignore_errors=True)  # a fresh run, not a resumed one
    images, captions, _ = make_split(args.pairs, 5, "train", colours=HALF_B)
    started = time.perf_counter()
    train(images, captions, tuned_dir, base=base_dir,
          config=TrainConfig(epochs=args.epochs, batch_size=100, lr=args.lr, warmup_steps=5, finetune=args.mode,
                             progress=False))
    seconds = time.perf_counter() - started
    after = r10(tuned_dir)

    print(f"\nfine-tuning clipdex-small ({args.mode}) on {args.pairs} pairs of half B for {args.epochs} epochs "
          f"({seconds:.0f}s); base trained {args.base_minutes:g} min on half A only")
    print(f"{'text->image R@10':22s} {'before':>7s} {'after':>7s} {'change':>7s}")
    for half in ("A", "B"):
        print(f"{'half ' + half:22s} {before[half]:7.3f} {after[half]:7.3f} {after[half] - before[half]:+7.3f}")
    met = after["B"] > before["B"] and before["A"] - after["A"] <= 0.05
    print(f"goal (B rises, A drops <= 0.05): {'met' if met else 'NOT met'}")
    write_result("finetune.json", {"mode": args.mode, "pairs": args.pairs, "epochs": args.epochs, "lr": args.lr,
                                   "before": before, "after": after, "finetune_seconds": seconds, "goal_met": met})


if __name__ == "__main__":
    main()
