"""Does captioning help search? Text->image recall of image vectors alone vs hybrid
(image + caption similarity), on synthetic shapes scenes.

    python bench/hybrid.py [--encoder DIR] [--captioner DIR] [--scenes 1000]

The dual encoder and the own captioner are the ones bench/quality.py and bench/caption.py
train (default: their output folders in the temp dir). 1,000 scenes with distinct captions
are written as PNG files and indexed; the captioner captions them and the captions are
indexed as texts (what `clipdex index-captions` does); every true caption is then a query.
Reports recall@1/5/10 for weights 0 (image only) to 1 (captions only), on scenes of seen
colour x shape pairs and on the test split (some pairs never seen in training). Prints a
table and writes bench/results/hybrid.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)


def run(split: str, count: int, encoder, captioner, work: str) -> dict:
    from indexer.captions import caption_source
    from indexer.captions import caption_rows
    from indexer.collection import Collection
    from indexer.search import hybrid_search
    from indexer.ingest import IndexOptions, index_folders
    from indexer.texts import TextCollection
    from retrieval.datasets.shapes import make_split

    folder = os.path.join(work, split)
    os.makedirs(folder)
    images, captions, _ = make_split(count, 7, split, distinct=True)
    for number, image in enumerate(images):
        image.save(os.path.join(folder, f"{number:05d}.png"))
    collection = Collection(os.path.join(work, f"{split}-data"))
    index_folders(collection, [folder], encoder.spec, lambda: encoder, IndexOptions(progress=False))
    rows = sorted(collection.store.iter_ok(), key=lambda r: r["path"])
    started = time.perf_counter()
    written = caption_rows(collection.store, captioner, rows)
    caption_seconds = time.perf_counter() - started
    texts = TextCollection(collection)
    texts.add([written[r["id"]].caption for r in rows], encoder, source=[caption_source(r["id"]) for r in rows])
    queries = encoder.embed_texts(captions)
    truth = [r["id"] for r in rows]  # rows sorted by path: scene i is file i
    recall = {}
    for weight in WEIGHTS:
        ranks = []
        for query, expected in zip(queries, truth):
            ids = [h.file_id for h in hybrid_search(collection, texts, query, 10, weight=weight)]
            ranks.append(ids.index(expected) if expected in ids else 99)
        recall[weight] = {f"R@{k}": sum(r < k for r in ranks) / len(ranks) for k in (1, 5, 10)}
    exact = sum(written[r["id"]].caption == c for r, c in zip(rows, captions)) / len(rows)
    collection.close()
    return {"recall": recall, "captions exactly right": exact, "caption images/s": len(rows) / caption_seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", default=os.path.join(tempfile.gettempdir(), "clipdex-quality-model"))
    parser.add_argument("--captioner", default=os.path.join(tempfile.gettempdir(), "clipdex-captioner"))
    parser.add_argument("--scenes", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from retrieval.captioning.own import OwnCaptioner
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model

    encoder = TorchEncoder(load_model(args.encoder), device="cpu", batch_size=256)
    captioner = OwnCaptioner(args.captioner, device="cpu")
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for split, name in (("train", "unseen scenes (seen pairs)"), ("test", "test split (incl. held-out pairs)")):
            results[name] = run(split, args.scenes, encoder, captioner, work)
    print(f"\ntext->image on {args.scenes} scenes with distinct captions; every true caption is a query")
    print(f"{'scenes':36s} {'caption weight':>14s} {'R@1':>6s} {'R@5':>6s} {'R@10':>6s}")
    for name, result in results.items():
        for weight, recall in result["recall"].items():
            print(f"{name:36s} {weight:14.1f} {recall['R@1']:6.3f} {recall['R@5']:6.3f} {recall['R@10']:6.3f}")
        print(f"{'':36s} (captions word for word right: {result['captions exactly right']:.3f}, "
              f"{result['caption images/s']:.0f} images/s captioned)")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "hybrid.json"), "w") as handle:
        json.dump({"scenes": args.scenes, "encoder": args.encoder, "captioner": args.captioner,
                   "results": {n: {**r, "recall": {str(w): v for w, v in r["recall"].items()}}
                               for n, r in results.items()}}, handle, indent=2)


if __name__ == "__main__":
    main()
