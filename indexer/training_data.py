"""(image, caption) pairs for training, from the places people keep them.

- a folder of images with sidecar captions: ``photo.jpg`` + ``photo.txt``;
- a CSV (columns ``path`` and ``caption``/``text``) or JSONL (``{"path", "caption"}``) file,
  paths relative to the file;
- a folder of class sub-folders (``cats/``, ``dogs/``): captions from templates;
- ``shapes:N`` / ``shapes:N:SPLIT``: N synthetic scenes generated on the fly.

Every problem (a missing caption, an unreadable image, an empty folder) is a
``TrainingDataError`` that names the file.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from indexer.ingest.scan import scan_folders
from indexer.jsonl import records
from retrieval.images.decode import DEFAULT_MAX_PIXELS, ImageError, read_image_file

CLASS_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.")


class TrainingDataError(ValueError):
    pass


@dataclass
class Pairs:
    images: list  # PIL images, RGB
    captions: list[str]
    classes: list[str] | None = None  # for class folders: the class names
    targets: list[int] | None = None  # class index per image


def _load(path: str, max_pixels: int):
    try:
        return read_image_file(path, max_pixels).image
    except ImageError as exc:
        raise TrainingDataError(f"{path}: {exc}") from None


def _sidecar_pairs(folder: str, max_pixels: int) -> Pairs:
    files = scan_folders([folder]).files
    if not files:
        raise TrainingDataError(f"{folder} holds no images")
    images, captions = [], []
    for found in files:
        text_path = os.path.splitext(found.path)[0] + ".txt"
        try:
            with open(text_path, encoding="utf-8") as handle:
                caption = handle.read().strip()
        except FileNotFoundError:
            raise TrainingDataError(f"{found.path} has no caption file {os.path.basename(text_path)}") from None
        except UnicodeDecodeError:
            raise TrainingDataError(f"{text_path} is not UTF-8 text") from None
        if not caption:
            raise TrainingDataError(f"{text_path} is empty")
        images.append(_load(found.path, max_pixels))
        captions.append(caption)
    return Pairs(images, captions)


def _class_pairs(folder: str, classes: list[str], max_pixels: int) -> Pairs:
    images, captions, targets = [], [], []
    for index, name in enumerate(classes):
        label = name.replace("_", " ").replace("-", " ")
        files = scan_folders([os.path.join(folder, name)]).files
        for number, found in enumerate(files):
            images.append(_load(found.path, max_pixels))
            captions.append(CLASS_TEMPLATES[number % len(CLASS_TEMPLATES)].format(label))
            targets.append(index)
    if not images:
        raise TrainingDataError(f"the class folders of {folder} hold no images")
    return Pairs(images, captions, classes=[c.replace("_", " ").replace("-", " ") for c in classes], targets=targets)


def _table_pairs(path: str, max_pixels: int) -> Pairs:
    base = os.path.dirname(os.path.abspath(path))
    rows: list[tuple[str, str]] = []
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            if path.lower().endswith(".csv"):
                for number, row in enumerate(csv.DictReader(handle), 2):
                    caption = row.get("caption") or row.get("text")
                    if not row.get("path") or not caption:
                        raise TrainingDataError(f"{path}:{number}: needs a path and a caption")
                    rows.append((row["path"], caption))
            else:
                for number, record in records(handle, path, TrainingDataError):
                    caption = record.get("caption") or record.get("text") if isinstance(record, dict) else None
                    if not isinstance(record, dict) or not record.get("path") or not caption:
                        raise TrainingDataError(f"{path}:{number}: needs a path and a caption")
                    rows.append((record["path"], caption))
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not rows:
        raise TrainingDataError(f"{path} lists no pairs")
    return Pairs([_load(os.path.join(base, p), max_pixels) for p, _ in rows], [c.strip() for _, c in rows])


def load_pairs(source: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Pairs:
    if source.startswith("shapes:"):
        from retrieval.datasets.shapes import make_split

        parts = source.split(":")
        try:
            count = int(parts[1])
        except (IndexError, ValueError):
            raise TrainingDataError(f"{source!r}: expected shapes:COUNT[:SPLIT]") from None
        split = parts[2] if len(parts) > 2 else "train"
        if split not in ("train", "test", "heldout"):
            raise TrainingDataError(f"{source!r}: split must be train, test or heldout")
        images, captions, _ = make_split(count, 0, split, distinct=split == "test")
        return Pairs(images, captions)
    if os.path.isfile(source):
        if not source.lower().endswith((".csv", ".jsonl", ".ndjson")):
            raise TrainingDataError(f"{source}: training data files are .csv or .jsonl")
        return _table_pairs(source, max_pixels)
    if not os.path.isdir(source):
        raise TrainingDataError(f"no such file or folder: {source}")
    entries = sorted(os.listdir(source))
    subfolders = [e for e in entries if os.path.isdir(os.path.join(source, e)) and not e.startswith(".")]
    loose_images = [e for e in entries if os.path.isfile(os.path.join(source, e)) and not e.endswith(".txt")]
    sidecars_below = any(
        name.endswith(".txt") for name in os.listdir(os.path.join(source, subfolders[0]))
    ) if subfolders else False
    if subfolders and not loose_images and not sidecars_below and not any(e.endswith(".txt") for e in entries):
        return _class_pairs(source, subfolders, max_pixels)
    return _sidecar_pairs(source, max_pixels)
