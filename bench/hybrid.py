"""Does captioning help search? Text->image recall of image vectors alone vs hybrid
(image + caption similarity), on synthetic shapes scenes.

    python -m bench.hybrid [--encoder DIR] [--captioner DIR] [--scenes 1000]

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
import os
import tempfile
import time

from bench.common import CAPTIONER, QUALITY_MODEL, hub_offline, table_header, table_line, write_result

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)


def run(split: str, count: int, encoder, captioner, work: str) -> dict:
    from indexer.captions import caption_rows, caption_source
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from indexer.search import hybrid_search
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
    parser.add_argument("--encoder", default=QUALITY_MODEL)
    parser.add_argument("--captioner", default=CAPTIONER)
    parser.add_argument("--scenes", type=int, default=1000)
    args = parser.parse_args()
    hub_offline()

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
    columns = [("scenes", "36s", "scenes"), ("caption weight", "14.1f", "weight"), ("R@1", "6.3f", "R@1"),
               ("R@5", "6.3f", "R@5"), ("R@10", "6.3f", "R@10")]
    print(table_header(columns))
    for name, result in results.items():
        for weight, recall in result["recall"].items():
            print(table_line(columns, {"scenes": name, "weight": weight, **recall}))
        print(f"{'':36s} (captions word for word right: {result['captions exactly right']:.3f}, "
              f"{result['caption images/s']:.0f} images/s captioned)")
    write_result("hybrid.json", {"scenes": args.scenes, "encoder": args.encoder, "captioner": args.captioner,
                                 "results": {n: {**r, "recall": {str(w): v for w, v in r["recall"].items()}}
                                             for n, r in results.items()}})


if __name__ == "__main__":
    main()
