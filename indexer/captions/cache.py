"""Captions of a collection's images, cached in its database.

A caption is keyed by (content hash, captioner name, prompt), so an image is captioned
once per captioner and prompt, whatever its path, and a retrained captioner (whose name
carries its weights' fingerprint) never serves stale text. Captioning is batched, cached
captions come first, and a time budget stops the work between batches: what was not
reached is reported as pending rather than making a search wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from indexer.store import Store, captions_table
from retrieval.images.decode import DEFAULT_MAX_PIXELS, ImageError, read_image_file


@dataclass
class CaptionResult:
    caption: str | None = None
    cached: bool = False
    error: str | None = None  # the image could not be read or captioned
    pending: bool = False  # the time budget ran out before it was reached


class CaptionCache:
    def __init__(self, store: Store):
        self.store = store

    def get(self, hashes: list[str], captioner: str, prompt: str | None) -> dict[str, str]:
        if not hashes:
            return {}
        table = captions_table
        query = select(table.c.content_hash, table.c.text).where(
            table.c.captioner == captioner, table.c.prompt == (prompt or ""),
            table.c.content_hash.in_(sorted(set(hashes))))
        with self.store.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def put(self, captions: dict[str, str], captioner: str, prompt: str | None) -> None:
        if not captions:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [{"content_hash": h, "captioner": captioner, "prompt": prompt or "", "text": t, "created_at": now}
                for h, t in captions.items()]
        key = tuple_(captions_table.c.content_hash, captions_table.c.captioner, captions_table.c.prompt)
        try:
            with self.store.engine.begin() as conn:
                known = set(conn.execute(select(captions_table.c.content_hash).where(
                    key.in_([(r["content_hash"], captioner, r["prompt"]) for r in rows]))).scalars())
                fresh = [r for r in rows if r["content_hash"] not in known]
                if fresh:
                    conn.execute(captions_table.insert(), fresh)
        except IntegrityError:
            pass  # another process cached the same captions meanwhile: theirs are as good


def copy_caption_cache(source: Store, target: Store) -> None:
    """Every cached caption of ``source`` that ``target`` lacks (reindexing with another model)."""
    table = captions_table
    groups: dict[tuple[str, str], dict[str, str]] = {}
    with source.engine.connect() as conn:
        for content_hash, captioner, prompt, text in conn.execute(
                select(table.c.content_hash, table.c.captioner, table.c.prompt, table.c.text)):
            groups.setdefault((captioner, prompt), {})[content_hash] = text
    cache = CaptionCache(target)
    for (captioner, prompt), captions in groups.items():
        hashes = list(captions)
        for start in range(0, len(hashes), 300):  # 3 parameters a key; databases bound them per query
            cache.put({h: captions[h] for h in hashes[start:start + 300]}, captioner, prompt)


def read_images(rows: list[dict], max_pixels: int = DEFAULT_MAX_PIXELS):
    """(images, the rows they are of, {row id: error}) for file rows; a file that cannot be
    read or decoded is an error of its own and costs the others nothing."""
    images, readable, errors = [], [], {}
    for row in rows:
        try:
            images.append(read_image_file(row["path"], max_pixels).image)
            readable.append(row)
        except ImageError as exc:
            errors[row["id"]] = str(exc)
    return images, readable, errors


def caption_rows(
    store: Store | None,
    captioner,
    rows: list[dict],
    prompt: str | None = None,
    budget_s: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[int, CaptionResult]:
    """Captions of file rows (dicts with ``id``, ``path``, ``content_hash``), by row id;
    cached in ``store`` (None: no cache)."""
    cache = CaptionCache(store) if store is not None else None
    cached = {} if cache is None else cache.get([r["content_hash"] for r in rows if r.get("content_hash")], captioner.name, prompt)
    results = {r["id"]: CaptionResult(cached[r["content_hash"]], cached=True)
               for r in rows if r.get("content_hash") in cached}
    todo = [r for r in rows if r["id"] not in results]
    started = time.monotonic()
    for start in range(0, len(todo), captioner.batch_size):
        chunk = todo[start:start + captioner.batch_size]
        if budget_s is not None and start and time.monotonic() - started > budget_s:
            results.update({r["id"]: CaptionResult(pending=True) for r in todo[start:]})
            break
        images, readable, errors = read_images(chunk, max_pixels)
        results.update({i: CaptionResult(error=e) for i, e in errors.items()})
        texts = captioner.caption(images, prompt=prompt) if images else []
        fresh = {}
        for row, text in zip(readable, texts):
            results[row["id"]] = CaptionResult(text)
            if row.get("content_hash"):
                fresh[row["content_hash"]] = text
        if cache is not None:
            cache.put(fresh, captioner.name, prompt)
    return results


def caption_files(
    store: Store,
    captioner,
    file_ids: list[int],
    prompt: str | None = None,
    budget_s: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[int, CaptionResult]:
    """``caption_rows`` for files of the collection given by id (search hits); ids with no
    row are left out."""
    rows = [row for row in (store.get_row(i) for i in file_ids) if row is not None]
    return caption_rows(store, captioner, rows, prompt, budget_s, max_pixels)
