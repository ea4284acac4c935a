"""Text in pictures: how well each OCR engine's text is found, what reading costs beside
indexing, and how fast a text search answers over 100,000 pictures' text.

    python -m bench.ocr [--count 1000] [--engines rapidocr rapidocr:full tesseract]
                        [--mixed 200] [--store 100000] [--postgres URL]

1. Recall: a deterministic corpus (retrieval/datasets/text_scenes.py: words, phrases,
   plate-like codes, numbers, German words with umlauts and ß; DejaVu and Liberation fonts
   at 14-72 px; plain and busy backgrounds; tilted, turned 90 and 180 degrees in the pixels
   or by an EXIF tag; a fifth without text). Each query's right answer is the one picture
   holding it; recall@1 and @10 by query kind, forgiving search (clipdex's) against exact
   case-insensitive substring search over the same text.
2. Cost: `clipdex index` of a folder where 80 % of the pictures hold no text, as cold
   processes with random ViT-B-32 weights, without OCR and with each engine (the first
   stage, the detector at half size, against detection at full size).
3. Queries: the corpus's queries against 100,000 readings in SQLite (and PostgreSQL with
   --postgres): p50 and p95 milliseconds, exact and misspelt.
Prints tables and writes bench/results/ocr.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import uuid

import numpy as np

from bench.common import cpu_flags, hub_offline, print_table, temp_path, write_result
from bench.photos import photo_like

KINDS = ("word", "phrase", "code", "half_code", "accented", "unaccented", "number")


def write_corpus(folder: str, count: int, seed: int, text_share: float):
    from retrieval.datasets.text_scenes import make_text_scenes, write_text_scenes

    scenes = make_text_scenes(count, seed=seed, text_share=text_share)
    if not os.path.isdir(folder) or len(os.listdir(folder)) != count:
        shutil.rmtree(folder, ignore_errors=True)
        write_text_scenes(folder, scenes)
    return scenes


def _strict_rank(query: str, texts: dict[str, str], name: str) -> int | None:
    """Rank of ``name`` among the files whose text holds ``query`` exactly (case aside)."""
    needle = query.casefold()
    holders = sorted(n for n, text in texts.items() if needle in text.casefold())
    return holders.index(name) + 1 if name in holders else None


def recall_rows(collection, scenes, engine_name: str) -> list[dict]:
    """One row per (query kind, forgiving or exact): recall@1 and @10."""
    from indexer.ocr import search_text_in_images
    from indexer.ocr.run import ENGINE_NAME
    from indexer.store.ocr_texts import OcrTexts
    from retrieval.ocr import full_text

    collection.store.set_meta(ENGINE_NAME, engine_name)
    rows = {path: row for path, row in ((r["path"], r) for r in collection.store.iter_ok())}
    readings = OcrTexts(collection.store).readings([r["content_hash"] for r in rows.values()], engine_name)
    texts = {os.path.basename(p)[:-4]: full_text(readings[r["content_hash"]].lines) for p, r in rows.items()
             if r["content_hash"] in readings}
    found: list[dict] = []
    for scene in scenes:
        for kind, query in scene.queries.items():
            hits = [os.path.basename(h.path)[:-4] for h in search_text_in_images(collection, query, 10)]
            rank = hits.index(scene.name) + 1 if scene.name in hits else None
            found.append({"kind": kind, "rank": rank, "strict": _strict_rank(query, texts, scene.name),
                          "size_px": scene.size_px, "rotation": scene.rotation, "chars": len(query)})
    return found


def summarise(found: list[dict], engine: str) -> list[dict]:
    groups = {kind: [f for f in found if f["kind"] == kind] for kind in KINDS}
    groups["words >=4 chars, >=20 px"] = [f for f in found if f["kind"] == "word" and f["chars"] >= 4
                                          and f["size_px"] >= 20]
    groups["turned 90 / EXIF 90"] = [f for f in found if f["rotation"] in ("turned90", "exif90")]
    groups["small print (<20 px)"] = [f for f in found if f["size_px"] < 20]
    groups["all"] = found
    rows = []
    for name, items in groups.items():
        if not items:
            continue

        def share(key, k):
            return sum(1 for f in items if f[key] is not None and f[key] <= k) / len(items)

        rows.append({"engine": engine, "queries": name, "n": len(items), "r1": share("rank", 1),
                     "r10": share("rank", 10), "strict_r1": share("strict", 1), "strict_r10": share("strict", 10)})
    return rows


def recall_section(args, work: str) -> tuple[list[dict], list[dict]]:
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from indexer.ocr import OcrOptions, read_collection_texts
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model

    scenes = write_corpus(os.path.join(work, "corpus"), args.count, args.seed, 0.8)
    data = os.path.join(work, "corpus-data")
    shutil.rmtree(data, ignore_errors=True)
    collection = Collection(data)
    encoder = TorchEncoder(load_model("random:clipdex-tiny"), device="cpu", batch_size=64)
    index_folders(collection, [os.path.join(work, "corpus")], encoder.spec, lambda: encoder,
                  IndexOptions(num_workers=0, progress=False))
    recall, speed = [], []
    for engine in args.engines:
        try:
            report = read_collection_texts(collection, engine, OcrOptions(progress=False))
        except (RuntimeError, ValueError) as exc:
            print(f"skipping {engine}: {exc}")
            continue
        speed.append({"engine": engine, "name": report.engine, "pictures": report.read, "failed": report.failed,
                      "seconds": report.seconds, "images_per_s": report.read / report.seconds})
        recall += summarise(recall_rows(collection, scenes, report.engine), engine)
    return recall, speed


def mixed_folder(folder: str, count: int, seed: int) -> int:
    """80 % photo-like pictures without text, 20 % text scenes; returns how many hold text."""
    from retrieval.datasets.text_scenes import make_text_scenes, scene_bytes

    if os.path.isdir(folder) and len(os.listdir(folder)) == count:
        return count // 5
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    rng = random.Random(seed)
    texts = make_text_scenes(count // 5, seed=seed + 1, text_share=1.0)
    for number in range(count - len(texts)):
        width, height = rng.choice(((640, 480), (800, 600), (1024, 768)))
        photo_like(seed * 100_000 + number, width, height).save(os.path.join(folder, f"photo_{number:05d}.jpg"),
                                                               "JPEG", quality=88)
    for scene in texts:
        with open(os.path.join(folder, f"text_{scene.name}.jpg"), "wb") as handle:
            handle.write(scene_bytes(scene))
    return len(texts)


def _index_seconds(folder: str, data: str, model: str, env: dict, ocr: str | None) -> float:
    shutil.rmtree(data, ignore_errors=True)
    command = [sys.executable, "-m", "api.cli", "index", folder, "--data-dir", data, "--model", model, "-q"]
    started = time.perf_counter()
    subprocess.run(command + (["--ocr", ocr] if ocr else []), check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def cost_section(args, work: str) -> list[dict]:
    folder = os.path.join(work, "mixed")
    with_text = mixed_folder(folder, args.mixed, args.seed)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLIPDEX_ONNX_CACHE": os.path.join(work, "onnx"),
           "XDG_CACHE_HOME": os.path.join(work, "cache")}
    warm = os.path.join(work, "warm")
    os.makedirs(warm, exist_ok=True)
    photo_like(1, 64, 64).save(os.path.join(warm, "a.jpg"))
    _index_seconds(warm, os.path.join(work, "warm-data"), args.model, env, None)  # the ONNX export, once
    rows = []
    for ocr in [None, *args.engines]:
        seconds = _index_seconds(folder, os.path.join(work, "mixed-data"), args.model, env, ocr)
        rows.append({"run": f"clipdex index --ocr {ocr}" if ocr else "clipdex index (no OCR)", "seconds": seconds,
                     "images_per_s": args.mixed / seconds})
    for row in rows:
        row["vs_no_ocr"] = row["seconds"] / rows[0]["seconds"]
    print(f"({args.mixed} pictures, {with_text} with text, model {args.model})")
    return rows


def _fake_line(rng: random.Random) -> str:
    from retrieval.datasets.text_scenes import _pseudo_word

    return " ".join(_pseudo_word(rng, rng.choice((2, 3))) for _ in range(rng.randrange(1, 4)))


@contextlib.contextmanager
def fresh_postgres(admin_url: str):
    """A new database on the server ``admin_url`` names (its account may create databases), dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"clipdex_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def store_section(args, work: str, url: str | None, label: str) -> list[dict]:
    """Query latency over ``args.store`` readings: the corpus's and made-up ones."""
    from sqlalchemy import insert

    from indexer.collection import Collection
    from indexer.ocr import search_text_in_images
    from indexer.ocr.run import ENGINE_NAME
    from indexer.store import OK, files_table
    from indexer.store.ocr_texts import OcrTexts, Reading
    from retrieval.datasets.text_scenes import make_text_scenes
    from retrieval.regions import Region

    data = os.path.join(work, f"store-{label}")
    shutil.rmtree(data, ignore_errors=True)
    collection = Collection(data, url)
    scenes = make_text_scenes(1000, seed=args.seed, text_share=1.0)  # their texts and queries
    rng = random.Random(7)
    lines = [s.lines for s in scenes] + [[_fake_line(rng) for _ in range(rng.randrange(1, 4))]
                                         for _ in range(args.store - len(scenes))]
    texts = OcrTexts(collection.store)
    for start in range(0, len(lines), 5000):
        chunk = range(start, min(len(lines), start + 5000))
        rows = [{"path": os.path.join(data, f"pic_{n:07d}.jpg"), "ext": "jpg", "size": 1, "mtime_ns": 0,
                 "content_hash": f"{n:064x}", "status": OK, "vector_id": n + 1} for n in chunk]
        with collection.store.engine.begin() as conn:
            conn.execute(insert(files_table), rows)
        texts.put([Reading(f"{n:064x}", [Region((0, 0, 1, 1), line, 0.9, "x") for line in lines[n]]) for n in chunk],
                  "bench")
    collection.store.set_meta(ENGINE_NAME, "bench")
    queries = [(kind, q) for s in scenes[:300] for kind, q in s.queries.items()]
    misspelt = [("misspelt", q[:2] + ("x" if q[2] != "x" else "y") + q[3:]) for kind, q in queries
                if kind in ("word", "phrase") and len(q) >= 6][:100]
    rows = []
    for group, items in (("exact", queries), ("misspelt", misspelt)):
        times, found = [], 0
        for _, query in items:
            started = time.perf_counter()
            hits = search_text_in_images(collection, query, 10)
            times.append((time.perf_counter() - started) * 1000)
            found += bool(hits)
        rows.append({"database": label, "readings": len(lines), "queries": group, "n": len(items),
                     "p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
                     "answered": found / len(items)})
    collection.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="corpus pictures (a fifth without text; 0: skip)")
    parser.add_argument("--engines", nargs="+", default=["rapidocr", "rapidocr:full", "tesseract"])
    parser.add_argument("--mixed", type=int, default=200, help="pictures of the mostly text-free folder (0: skip)")
    parser.add_argument("--model", default="random:ViT-B-32", help="the model of the cost runs")
    parser.add_argument("--store", type=int, default=100_000, help="readings of the query-latency store (0: skip)")
    parser.add_argument("--postgres", help="also time queries on the PostgreSQL server of this URL (its account "
                        "may create databases: one is made for the run and dropped)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=temp_path("clipdex-bench-ocr"))
    args = parser.parse_args()
    hub_offline()
    os.makedirs(args.work, exist_ok=True)
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "flags": cpu_flags()}, "args": vars(args)}
    if args.count:
        recall, speed = recall_section(args, args.work)
        print_table([("engine", "<14s", "engine"), ("queries", "<26s", "queries"), ("n", "5d", "n"),
                     ("R@1", "6.3f", "r1"), ("R@10", "6.3f", "r10"), ("exact R@1", "10.3f", "strict_r1"),
                     ("exact R@10", "11.3f", "strict_r10")], recall)
        print_table([("engine", "<14s", "engine"), ("pictures", "9d", "pictures"), ("failed", "7d", "failed"),
                     ("seconds", "8.1f", "seconds"), ("img/s", "7.2f", "images_per_s")], speed)
        result.update(recall=recall, reading=speed)
        write_result("ocr.json", result)  # (again after each part: a long run keeps what it measured)
    if args.mixed:
        result["cost"] = cost_section(args, args.work)
        print_table([("run", "<34s", "run"), ("seconds", "8.1f", "seconds"), ("img/s", "7.2f", "images_per_s"),
                     ("x no OCR", "9.2f", "vs_no_ocr")], result["cost"])
        write_result("ocr.json", result)
    if args.store:
        result["queries"] = store_section(args, args.work, None, "sqlite")
        if args.postgres:
            with fresh_postgres(args.postgres) as url:
                result["queries"] += store_section(args, args.work, url, "postgresql")
        print_table([("database", "<11s", "database"), ("readings", "9d", "readings"), ("queries", "<9s", "queries"),
                     ("n", "5d", "n"), ("p50 ms", "7.1f", "p50_ms"), ("p95 ms", "7.1f", "p95_ms"),
                     ("answered", "9.2f", "answered")], result["queries"])
        write_result("ocr.json", result)


if __name__ == "__main__":
    main()
