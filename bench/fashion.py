"""Zero-shot Fashion-MNIST after contrastive training on its train split with templated captions.

    python bench/fashion.py [--minutes 8] [--train 60000]

Trains clipdex-small from scratch on (image, "a photo of a {class}.") pairs, then
classifies the 10,000 test images by prompts alone (labels embedded through the
templates, no classifier head). Prints a table and writes bench/results/fashion.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GOAL = 0.85


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=60000)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "clipdex-fashion-model"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from retrieval.encoders import TorchEncoder
    from retrieval.datasets.fashion_mnist import CAPTION_TEMPLATES, CLASSES, load_split
    from retrieval.models import load_model
    from retrieval.training import EvalData, TrainConfig, evaluate, train

    images, captions, classes = load_split("train", limit=args.train)
    test_images, _, test_targets = load_split("test")
    started = time.perf_counter()
    result = train(images, captions, args.out, arch="clipdex-small",
                   config=TrainConfig(epochs=20, batch_size=args.batch_size, max_seconds=args.minutes * 60),
                   on_epoch=lambda r: print(f"epoch {r['epoch']} step {r['step']} loss {r['loss']:.3f}", flush=True),
                   groups=classes)  # a class's pairs are positives of each other
    seconds = time.perf_counter() - started
    encoder = TorchEncoder(load_model(args.out), device="cpu", batch_size=512)
    metrics = evaluate(encoder, EvalData(test_images, [f"test {i}" for i in range(len(test_images))],
                                         labels=list(CLASSES), targets=test_targets, templates=list(CAPTION_TEMPLATES)))
    accuracy = metrics["zero-shot accuracy"]
    print(f"\nFashion-MNIST: clipdex-small trained {seconds / 60:.1f} min on {len(images):,} captioned train images "
          f"({result.steps} steps, {os.cpu_count()} CPUs)")
    print(f"{'metric':34s} {'value':>7s} {'goal':>7s}")
    print(f"{'zero-shot accuracy, 10,000 test':34s} {accuracy:7.3f} {GOAL:7.2f} {'met' if accuracy >= GOAL else 'NOT met'}")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "fashion.json"), "w") as handle:
        json.dump({"train": len(images), "train_seconds": seconds, "steps": result.steps, "accuracy": accuracy,
                   "goal": GOAL, "history": result.history}, handle, indent=2)


if __name__ == "__main__":
    main()
