"""Zero-shot Fashion-MNIST after contrastive training on its train split with templated captions.

    python -m bench.fashion [--minutes 8] [--train 60000]

Trains clipdex-small from scratch on (image, "a photo of a {class}.") pairs, then
classifies the 10,000 test images by prompts alone (labels embedded through the
templates, no classifier head). Prints a table and writes bench/results/fashion.json.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import hub_offline, temp_path, write_result

GOAL = 0.85


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=60000)
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", default=temp_path("clipdex-fashion-model"))
    args = parser.parse_args()
    hub_offline()

    from retrieval.datasets.fashion_mnist import CAPTION_TEMPLATES, CLASSES, load_split
    from retrieval.encoders import TorchEncoder
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
    write_result("fashion.json", {"train": len(images), "train_seconds": seconds, "steps": result.steps,
                                  "accuracy": accuracy, "goal": GOAL, "history": result.history})


if __name__ == "__main__":
    main()
