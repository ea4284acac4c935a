"""Quality of clipdex's own captioner on synthetic shapes, trained within a CPU time budget.

    python -m bench.caption [--encoder DIR] [--train 20000] [--minutes 9]

The captioner is trained (``retrieval.caption_training``) on the image tower of a dual
encoder clipdex trained on the same world: ``--encoder`` names it; without it,
clipdex-small is first trained the way bench/quality.py does (its time is reported
apart; it is the contrastive model the captioner builds on, not part of the captioner's
budget). Then, on 500 scenes never seen in training (a new seed of the training
distribution): the share of captions that name the colour and shape of every object
(goal >= 0.90), BLEU-4 and CIDEr-D against the true captions; the same on 500 scenes
of the test split, where some objects have colour x shape pairs no training caption
ever had. Prints a table and writes bench/results/caption.json.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import CAPTIONER, ensure_quality_model, hub_offline, print_table, write_result

GOAL = 0.90


def score(captioner, images, captions, scenes) -> dict:
    from retrieval.captioning.metrics import bleu4, cider_d
    from retrieval.datasets.shapes import names_every_object

    started = time.perf_counter()
    written = captioner.caption(images)
    seconds = time.perf_counter() - started
    return {
        "names every object": sum(names_every_object(w, s) for w, s in zip(written, scenes)) / len(scenes),
        "exact caption": sum(w == c for w, c in zip(written, captions)) / len(captions),
        "BLEU-4": bleu4(written, [[c] for c in captions]),
        "CIDEr-D": cider_d(written, [[c] for c in captions]),
        "images/s": len(images) / seconds,
        "examples": [{"written": w, "true": c} for w, c in list(zip(written, captions))[:8]],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", help="dual encoder folder (default: train clipdex-small first)")
    parser.add_argument("--encoder-minutes", type=float, default=9.0)
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--out", default=CAPTIONER)
    args = parser.parse_args()
    hub_offline()

    import torch

    from retrieval.captioning.own import OwnCaptioner
    from retrieval.datasets.shapes import make_split
    from retrieval.training import CaptionTrainConfig, train_captioner

    encoder, encoder_seconds = ensure_quality_model(args.encoder, args.encoder_minutes)
    images, captions, _ = make_split(args.train, 0, "train")
    started = time.perf_counter()
    result = train_captioner(images, captions, encoder, args.out,
                             CaptionTrainConfig(epochs=100, max_seconds=args.minutes * 60),
                             on_epoch=lambda r: print(f"epoch {r['epoch']} step {r['step']} loss {r['loss']:.3f} "
                                                      f"({r['seconds']:.0f}s)", flush=True))
    train_seconds = time.perf_counter() - started

    captioner = OwnCaptioner(args.out, device="cpu")
    rows = {
        "unseen scenes (seen pairs)": score(captioner, *make_split(500, 1, "train")),
        "test split (incl. held-out pairs)": score(captioner, *make_split(500, 1, "test")),
    }
    print(f"\nown captioner on {encoder}: trained on {args.train:,} scenes for {train_seconds / 60:.1f} min "
          f"({result.steps} steps, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs)"
          + (f"; the dual encoder took {encoder_seconds / 60:.1f} min before" if encoder_seconds else ""))
    print_table([("500 held-out images", "36s", "name"), ("names every object", "18.3f", "names every object"),
                 ("exact", "6.3f", "exact caption"), ("BLEU-4", "7.3f", "BLEU-4"), ("CIDEr-D", "8.3f", "CIDEr-D"),
                 ("img/s", "6.0f", "images/s")], [{"name": name, **row} for name, row in rows.items()])
    met = rows["unseen scenes (seen pairs)"]["names every object"] >= GOAL
    print(f"goal: names every object on >= {GOAL:.0%} of unseen scenes: {'met' if met else 'NOT met'}")
    write_result("caption.json", {"train": args.train, "train_seconds": train_seconds, "encoder_seconds": encoder_seconds,
                                  "steps": result.steps, "cpus": os.cpu_count(), "goal": GOAL, "met": met,
                                  "results": rows, "history": result.history})


if __name__ == "__main__":
    main()
