"""Showing where: does the heat map point at the object a query names, and what does it cost?

    python -m bench.locate [--scenes 600] [--model /tmp/clipdex-quality-model] [--minutes 9]

On shapes scenes of 2-3 objects (their generator knows each object's box) the query names
one of them by size, colour and shape ("a small blue square"), one whose colour and shape
no other object of the scene has. With the model bench.quality trains (trained here if
missing) and a random model of its architecture (the floor), for each way of reading the
patch tokens: the pointing game (the heat map's hottest point inside the named object's
box) and the share of boxes with IoU >= 0.5, on colour x shape pairs the model saw in
training and on held-out ones; against the baselines "the centre of the picture" and "the
largest object"; and windows located from the pictures' records as `clipdex index --locate`
keeps them (int8; row "trained model, records"). Beside them, what the trained model knows
of the objects: with each object of a scene drawn alone, how often the query is closest to
the named one. Cost: a text search of 10 hits over a collection of these scenes, and
locating those 10 hits, in ms on this machine: by reading their files again (value, windows), or from what `clipdex
index --locate` prepared (windows), with what preparing cost at index time.
Prints tables and writes bench/results/locate.json.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import time

from bench.common import ensure_quality_model, hub_offline, print_table, temp_path, write_result

SIDE = 64


def object_box(thing) -> tuple[float, float, float, float]:
    from retrieval.datasets.shapes import SIZES

    radius = SIZES[thing.size] * SIDE / 2
    return (thing.x * SIDE - radius, thing.y * SIDE - radius, thing.x * SIDE + radius, thing.y * SIDE + radius)


def make_cases(count: int, seed: int) -> list[dict]:
    """Scenes of 2-3 objects and the object a query names (its colour and shape unique there)."""
    from retrieval.datasets import shapes

    rng = random.Random(f"locate-{seed}")
    seen, held = shapes.pairs()
    cases = []
    while len(cases) < count:
        things = shapes.scene(rng, seen + held, objects=rng.choice((2, 3)))
        unique = [t for t in things if sum((o.colour, o.shape) == (t.colour, t.shape) for o in things) == 1]
        if not unique:
            continue
        target = rng.choice(unique)
        cases.append({"image": shapes.draw(things, SIDE), "things": things, "target": target,
                      "query": f"a {target.words}", "held_out": (target.colour, target.shape) in set(held)})
    return cases


def _inside(point, box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def baselines(cases: list[dict]) -> dict[str, list[tuple]]:
    """(point, box) per case of: the centre of the picture (a centred box of the mean object
    size), and the largest object (ties: the first)."""
    from retrieval.datasets.shapes import SIZES

    half = statistics.mean(SIZES.values()) * SIDE / 2
    centre = [((SIDE / 2, SIDE / 2), (SIDE / 2 - half, SIDE / 2 - half, SIDE / 2 + half, SIDE / 2 + half))
              for _ in cases]
    largest = []
    for case in cases:
        thing = max(case["things"], key=lambda t: SIZES[t.size])
        box = object_box(thing)
        largest.append((((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), box))
    return {"centre of the picture": centre, "largest object": largest}


def predictions(model_spec: str, cases: list[dict], method: str, records: bool = False) -> tuple[list[tuple], float]:
    """((point, box) per case, seconds per picture) of the dense locator. ``records``: by
    windows from each picture's prepared record, as `clipdex index --locate` keeps it (int8)
    and a search reads it back (the seconds then include preparing)."""
    from retrieval.encoders import TorchEncoder
    from retrieval.locate import DenseLocator
    from retrieval.locate.heatmap import peak_point
    from retrieval.locate.letterbox import Letterbox
    from retrieval.locate.prepared import read_records
    from retrieval.models import load_model

    loaded = load_model(model_spec)
    encoder = TorchEncoder(loaded, device="cpu", batch_size=256)
    vectors = encoder.embed_texts([c["query"] for c in cases])
    locator = DenseLocator(encoder, method)
    started = time.perf_counter()
    images, queries = [c["image"] for c in cases], [c["query"] for c in cases]
    if records:
        _, kept = read_records([one.to_bytes() for one in locator.prepare(images)])
        located = locator.locate_prepared(kept, vectors, queries)
    else:
        located = locator.locate(images, vectors, queries)
    seconds = (time.perf_counter() - started) / len(cases)
    box = Letterbox.of(SIDE, SIDE, loaded.image_size)
    return [(peak_point(place.grid, box), place.region.box) for place in located], seconds


def recognised_alone(model_spec: str, cases: list[dict]) -> dict[str, float]:
    """Not a locator: the share of cases where, with each object of the scene drawn alone,
    the query's vector is closest to the named one's picture, by split. What the model
    knows of the objects, against which the heat maps' pointing can be read."""
    import numpy as np

    from retrieval.datasets import shapes
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model

    encoder = TorchEncoder(load_model(model_spec), device="cpu", batch_size=256)
    vectors = encoder.embed_texts([c["query"] for c in cases])
    out = {}
    for split, held in (("seen pairs", False), ("held-out pairs", True)):
        chosen = [(case, vector) for case, vector in zip(cases, vectors) if case["held_out"] == held]
        right = 0
        for case, vector in chosen:
            alone = encoder.embed_images([shapes.draw([thing], SIDE) for thing in case["things"]])
            right += case["things"][int(np.argmax(alone @ vector))] == case["target"]
        out[split] = right / max(len(chosen), 1)
    return out


def score(rows: list[tuple], cases: list[dict], name: str) -> list[dict]:
    from retrieval.regions import iou

    out = []
    for split, held in (("seen pairs", False), ("held-out pairs", True)):
        chosen = [(row, case) for row, case in zip(rows, cases) if case["held_out"] == held]
        if not chosen:
            continue
        pointing = sum(_inside(point, object_box(c["target"])) for (point, _), c in chosen) / len(chosen)
        boxes = sum(iou(box, object_box(c["target"])) >= 0.5 for (_, box), c in chosen) / len(chosen)
        out.append({"method": name, "pairs": split, "n": len(chosen), "pointing": pointing, "iou50": boxes})
    return out


def cost(model_spec: str, cases: list[dict], work: str) -> dict:
    """ms of a text search of 10 hits, and of locating them by each method ({method: {...}}):
    value and windows reading the hits' files again; windows from the records `clipdex index
    --locate` prepared (and what preparing them cost at index time, against embedding)."""
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from indexer.prepare_locating import prepare_locating
    from indexer.search import locate_hits
    from retrieval.encoders import TorchEncoder
    from retrieval.locate import DenseLocator
    from retrieval.models import load_model

    folder, data = os.path.join(work, "scenes"), os.path.join(work, "data")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(folder)
    for number, case in enumerate(cases):
        case["image"].save(os.path.join(folder, f"scene_{number:05d}.png"))
    encoder = TorchEncoder(load_model(model_spec), device="cpu", batch_size=64)
    collection = Collection(data)
    report = index_folders(collection, [folder], encoder.spec, lambda: encoder, IndexOptions(num_workers=0, progress=False))
    prepared = prepare_locating(collection, lambda: encoder, progress=False)
    out = {}
    for method, reads_files in (("value", True), ("windows", True), ("windows prepared", False)):
        locator = DenseLocator(encoder, method.split()[0], device="cpu")
        search_ms, locate_ms = [], []
        for case in cases[:60] * 3:  # (three rounds: the median of 175 searches)
            started = time.perf_counter()
            vector = encoder.embed_texts([case["query"]])[0]
            hits = collection.search(vector, 10)[0]
            searched = time.perf_counter()
            locate_hits(hits, locator, vector, case["query"], 10**8, None if reads_files else collection)
            search_ms.append((searched - started) * 1000)
            locate_ms.append((time.perf_counter() - searched) * 1000)
        search, locate = statistics.median(search_ms[5:]), statistics.median(locate_ms[5:])
        out[method] = {"search_10_hits_ms": search, "locate_10_hits_ms": locate, "locate_per_hit_ms": locate / 10,
                       "added": locate / search}
    out["windows prepared"]["index_seconds"] = report.seconds
    out["windows prepared"]["prepare_seconds"] = prepared.seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=600)
    parser.add_argument("--model", help="a trained shapes model (default: bench.quality's, trained if missing)")
    parser.add_argument("--minutes", type=float, default=9.0, help="training budget when the model is missing")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default=temp_path("clipdex-bench-locate"))
    args = parser.parse_args()
    hub_offline()
    from retrieval.locate.methods import METHODS

    model, trained_seconds = ensure_quality_model(args.model, args.minutes)
    cases = make_cases(args.scenes, args.seed)
    rows, speed = [], {}
    for name, predicted in baselines(cases).items():
        rows += score(predicted, cases, name)
    for spec, label in ((model, "trained"), ("random:clipdex-small", "random")):
        for method in (METHODS if label == "trained" else ("value", "windows")):
            predicted, seconds = predictions(spec, cases, method)
            rows += score(predicted, cases, f"{label} model, {method}")
            speed[f"{label} {method}"] = seconds * 1000
    rows += score(predictions(model, cases, "windows", records=True)[0], cases, "trained model, records")
    print_table([("method", "<26s", "method"), ("pairs", "<15s", "pairs"), ("n", "5d", "n"),
                 ("pointing", "9.3f", "pointing"), ("IoU>=0.5", "9.3f", "iou50")], rows)
    alone = recognised_alone(model, cases)
    print("the trained model, shown each object of a scene alone, picks the named one: "
          + ", ".join(f"{share:.3f} ({split})" for split, share in alone.items()))
    spent = cost(model, cases, args.work)
    for method, row in spent.items():
        print(f"{method}: text search of 10 hits {row['search_10_hits_ms']:.1f} ms; locating them "
              f"{row['locate_10_hits_ms']:.2f} ms ({row['locate_per_hit_ms']:.3f} ms a hit, "
              f"+{row['added'] * 100:.0f} % of the search)")
    ready = spent["windows prepared"]
    print(f"preparing {len(cases)} pictures at index time took {ready['prepare_seconds']:.1f} s, "
          f"embedding them {ready['index_seconds']:.1f} s")
    write_result("locate.json", {"model": model, "trained_seconds": trained_seconds, "scenes": len(cases),
                                 "rows": rows, "recognised_alone": alone, "ms_per_picture_batched": speed, "cost": spent,
                                 "cpus": os.cpu_count()})


if __name__ == "__main__":
    main()
