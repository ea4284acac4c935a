"""`clipdex demo`: on a machine with no network, a search that really finds things.

Generates a synthetic collection of captioned shape scenes, trains (or reuses) a small
model on other scenes of the same world, indexes the collection with it, and shows
text searches and zero-shot labels, with whether each answer is right.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict

from api.settings import user_cache_dir
from retrieval.datasets.shapes import COLOURLESS_SHARE, colour_shape_labels, make_split

# Written by hand, each the caption of one picture of the demo's collection (a test holds
# them to it: a query with no exact answer could never rank one first); two more queries
# are taken from the collection itself.
QUERIES = ("a large red circle", "a small blue square left of a large green triangle")
COLLECTION_SIZE, COLLECTION_SEED = 300, 1
PICKED = (7, 42)  # the collection's pictures whose captions are the other queries


# The demo's recipe: a fixed number of steps (64 a pass over the scenes), not a time budget.
SCENES, EPOCHS, CAPTION_EPOCHS, BATCH = 8192, 5, 14, 128
# The captioner: 896 steps that warm up for 30 and peak at 0.002 (CaptionTrainConfig's 100
# and 0.001 suit runs of thousands of steps); no dropout (on a CPU its masks cost a third of
# a step, and 896 steps do not overfit); 96 wide (128 named no more, at 4/3 of the cost;
# 64 named 0.65; one layer stayed at 0.70 however long it trained). It learns from scenes of
# every colour x shape pair: only the dual encoder's zero-shot labels show what generalises
# to unseen pairs, and a word decoder trained without them named every object of 1 of the
# collection's 104 scenes that show one. Every object named in 0.73 of the collection's 300
# scenes, against 0.42 with 6 passes over seen pairs with dropout, at about the same cost.
CAPTION_LR, CAPTION_WARMUP, CAPTION_DROPOUT, CAPTION_WIDTH, CAPTION_SPLIT = 2e-3, 30, 0.0, 96, "all"
DONE = "DONE"  # a finished model's marker: the recipe it was made by


def default_work_dir() -> str:
    return user_cache_dir("demo")


def write_scenes(folder: str, count: int, split: str, seed: int = COLLECTION_SEED,
                 colourless: float = 0.0) -> list[tuple[str, str, list]]:
    """PNG files with sidecar .txt captions; returns (path, caption, the scene's objects)."""
    os.makedirs(folder, exist_ok=True)
    images, captions, things = make_split(count, seed, split, distinct=True, colourless=colourless)
    written = []
    for number, (image, caption, objects) in enumerate(zip(images, captions, things)):
        path = os.path.join(folder, f"scene_{number:04d}.png")
        if not os.path.exists(path):
            image.save(path)
            with open(path[:-4] + ".txt", "w", encoding="utf-8") as handle:
                handle.write(caption + "\n")
        written.append((path, caption, objects))
    return written


def _reuse(folder: str, recipe: dict, what: str, say) -> bool:
    """Whether ``folder`` holds a finished model made by this ``recipe`` (its DONE marker)."""
    marker = os.path.join(folder, DONE)
    try:
        with open(marker) as handle:
            made_by = json.load(handle)
    except (OSError, ValueError):
        return False  # none yet (a run cut short resumes where it stopped)
    if made_by == recipe:
        say(f"reusing the {what} trained earlier: {folder}")
        return True
    shutil.rmtree(folder)  # a finished demo model of another recipe (its marker says so): made anew
    return False


def _done(folder: str, recipe: dict) -> None:
    with open(os.path.join(folder, DONE), "w") as handle:
        json.dump(recipe, handle)


def ensure_model(model_dir: str, scenes: int, epochs: int, say, minutes: float | None = None) -> bool:
    """clipdex-small trained from scratch on ``scenes`` generated scenes for ``epochs``: a
    fixed number of steps and seeds, so every machine gets the same model (a slower one
    takes longer); ``minutes`` caps the time instead, and then the model depends on the machine.
    Returns whether it was trained now (False: one of this recipe was there)."""
    from api.cpu_kernels import in_use
    from retrieval.training import STATE_FILE, TrainConfig, train

    recipe = {"scenes": scenes, "epochs": epochs, "minutes": minutes, "batch_size": BATCH, "colourless": COLOURLESS_SHARE,
              "kernels": in_use()}
    if _reuse(model_dir, recipe, "model", say):
        return False
    steps = max(1, scenes // BATCH) * epochs
    say(f"training clipdex-small from scratch: {steps} steps over {scenes:,} generated scenes"
        + (f", at most {minutes:g} min" if minutes else "") + " (once; later runs reuse it)...")
    images, captions, _ = make_split(scenes, 0, "train", colourless=COLOURLESS_SHARE)
    started = time.monotonic()
    result = train(images, captions, model_dir, arch="clipdex-small",
                   config=TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, seed=0,
                                      max_seconds=minutes * 60 if minutes else None))
    say(f"trained {result.steps} steps in {(time.monotonic() - started) / 60:.1f} min -> {model_dir}")
    if os.path.exists(os.path.join(model_dir, STATE_FILE)):
        os.unlink(os.path.join(model_dir, STATE_FILE))  # a finished model, not a run to resume
    _done(model_dir, recipe)
    return True


def ensure_captioner(out_dir: str, model_dir: str, scenes: int, epochs: int, say, minutes: float | None = None) -> bool:
    """clipdex's own captioner on the demo model, trained once on generated scenes of every
    colour x shape pair, a fixed number of steps (or for at most ``minutes``). Returns
    whether it was trained now."""
    from retrieval.training import CaptionTrainConfig, train_captioner

    with open(os.path.join(model_dir, DONE)) as handle:
        model_recipe = json.load(handle)  # a model made anew gets a captioner made anew
    config = CaptionTrainConfig(epochs=epochs, batch_size=BATCH, seed=0, lr=CAPTION_LR, warmup_steps=CAPTION_WARMUP,
                                dropout=CAPTION_DROPOUT, width=CAPTION_WIDTH,
                                max_seconds=minutes * 60 if minutes else None)
    # every setting of the run, so that a setting changed later makes the captioner anew
    recipe = {"scenes": scenes, "split": CAPTION_SPLIT, "model": model_recipe,
              **{name: value for name, value in asdict(config).items() if name != "device"}}
    if _reuse(out_dir, recipe, "captioner", say):
        return False
    say(f"training a captioner on that model: {max(1, scenes // BATCH) * epochs} steps over {scenes:,} scenes "
        f"of all {len(colour_shape_labels())} colour x shape pairs (once)...")
    images, captions, _ = make_split(scenes, 0, CAPTION_SPLIT)
    result = train_captioner(images, captions, model_dir, out_dir, config)
    say(f"trained {result.steps} steps in {result.seconds / 60:.1f} min -> {out_dir}")
    _done(out_dir, recipe)
    return True


def run_demo(work_dir: str, scenes: int = SCENES, epochs: int = EPOCHS, caption_epochs: int = CAPTION_EPOCHS,
             collection_size: int = COLLECTION_SIZE, say=print, minutes: float | None = None,
             caption_minutes: float | None = None) -> dict:
    from api.cpu_kernels import pin_kernels, pin_torch

    unpinned = pin_kernels()  # before anything imports torch (api/cpu_kernels.py: what it holds the same)
    if unpinned:
        say(f"note: {unpinned}; this machine's answers may differ from another kind's")
    pin_torch()
    from indexer.captions import caption_files
    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from retrieval.captioning.own import OwnCaptioner
    from retrieval.datasets.shapes import names_every_object
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model
    from retrieval.zero_shot import classify, label_vectors

    started = time.monotonic()
    if minutes and caption_minutes is None:
        caption_minutes = min(2.0, minutes / 2)
    model_dir, captioner_dir = os.path.join(work_dir, "model"), os.path.join(work_dir, "captioner")
    trained = []  # what this run made (the others were reused)
    if ensure_model(model_dir, scenes, epochs, say, minutes):
        trained.append("model")
    if ensure_captioner(captioner_dir, model_dir, scenes, caption_epochs, say, caption_minutes):
        trained.append("captioner")
    captioner = OwnCaptioner(captioner_dir)
    photos = os.path.join(work_dir, "photos")
    scenes = write_scenes(photos, collection_size, "test")
    captions = {path: caption for path, caption, _ in scenes}
    scene_of = {path: objects for path, _, objects in scenes}
    encoder = TorchEncoder(load_model(model_dir), batch_size=128)
    data_dir = os.path.join(photos, ".clipdex")
    collection = Collection(data_dir)
    report = index_folders(collection, [photos], encoder.spec, lambda: encoder, IndexOptions(progress=False))
    say(f"\nindexed {report.embedded} new images ({report.unchanged} unchanged) of {photos} -> {data_dir}")

    found = named = shown = 0
    queries = [*QUERIES, *(scenes[i][1] for i in PICKED)]
    for query in queries:
        hits = collection.search(encoder.embed_texts([query]), 3)[0]
        written = caption_files(collection.store, captioner, [h.file_id for h in hits])
        say(f'\nsearch "{query}"')
        for rank, hit in enumerate(hits, 1):
            right = captions.get(hit.path) == query
            found += int(right and rank == 1)
            say(f"  {rank}. {hit.score:.3f}  {os.path.basename(hit.path)}  \"{captions.get(hit.path)}\"{'  <- exact' if right else ''}")
            caption = written[hit.file_id].caption
            shown += 1
            named += int(caption is not None and names_every_object(caption, scene_of[hit.path]))
            say(f"     captioned: \"{caption}\"")

    labels = colour_shape_labels()
    singles, _, single_scenes = make_split(4, 3, "heldout")  # single objects, pairs never trained on
    picked = [(image, scene[0]) for image, scene in zip(singles, single_scenes)]
    vectors = encoder.embed_images([img for img, _ in picked])
    probabilities = classify(vectors, label_vectors(encoder, labels, ["a small {}", "a large {}"]), encoder.logit_scale)
    say("\nzero-shot colour x shape labels (24 classes) for pairs the model never saw in training:")
    correct = 0
    for (_, thing), row in zip(picked, probabilities):
        best = labels[int(row.argmax())]
        truth = f"{thing.colour} {thing.shape}"
        correct += best == truth
        say(f"  a {thing.size} {truth:18s} -> {best} ({row.max():.2f}){'' if best == truth else '  (wrong)'}")
    collection.close()
    return {"data_dir": data_dir, "model": model_dir, "exact_top1": found, "queries": len(queries),
            "zero_shot_correct": correct, "zero_shot_total": len(picked), "captioner": captioner_dir,
            "captions_right": named, "captions_shown": shown, "trained": trained,
            "indexed_new": report.embedded, "seconds": round(time.monotonic() - started, 1)}
