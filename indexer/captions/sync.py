"""Captions of the collection's images kept as texts, so that image->text and hybrid search
find them. A caption text has the source ``caption:FILE_ID``.

`sync_caption_texts` (`clipdex index-captions`) makes the texts hold exactly one caption,
by the captioner asked for, of every indexed image (follow.py keeps them with their files
between syncs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from indexer.captions.cache import caption_rows
from indexer.captions.sources import CAPTION_SOURCE, caption_source
from indexer.collection import Collection
from indexer.store import OK
from indexer.texts import TextCollection
from retrieval.images.decode import DEFAULT_MAX_PIXELS


@dataclass
class CaptionTextsReport:
    added: int = 0  # images that had no caption text
    replaced: int = 0  # images whose caption text was another (changed file, other captioner or prompt)
    kept: int = 0  # images whose caption text is already this captioner's
    removed: int = 0  # caption texts of files no longer indexed
    failed: int = 0  # images that could not be read or captioned


def sync_caption_texts(
    collection: Collection,
    captioner,
    encoder_factory: Callable,
    prompt: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    step: int = 256,
) -> CaptionTextsReport:
    """Give every indexed image exactly one caption text, this captioner's (with ``prompt``).

    Captions come from the caption cache where it has them, so a rerun generates nothing
    new; the encoder is made only when a text must be added. Works in steps of ``step``
    images, so an interrupted run keeps what it did.
    """
    texts = TextCollection(collection)
    report = CaptionTextsReport()
    made: list = []

    def encoder():  # made once, and only when something must be embedded
        if not made:
            made.append(encoder_factory())
        return made[0]

    texts.ensure_readable(encoder)  # captions in a text index that cannot be read would find nothing
    have = texts.texts_by_source(CAPTION_SOURCE)
    rows = list(collection.store.iter_ok())
    indexed = {caption_source(row["id"]) for row in rows}
    stale = [text_id for source, items in have.items() if source not in indexed for text_id, _ in items]
    if stale:
        report.removed = texts.remove(stale)
    for start in range(0, len(rows), step):
        chunk = rows[start:start + step]
        results = caption_rows(collection.store, captioner, chunk, prompt, max_pixels=max_pixels)
        hashes = {row["id"]: row["content_hash"] for row in chunk}
        new_texts, new_sources, old_ids = [], [], []
        for file_id, result in sorted(results.items()):
            if not result.caption or result.error:
                report.failed += 1
                continue
            source = caption_source(file_id)
            old = have.get(source, [])
            if [text for _, text in old] == [result.caption]:
                report.kept += 1
                continue
            if changed_meanwhile(collection, file_id, hashes[file_id]):
                continue  # `clipdex index` changed or removed it during this sync: the next one sees it as it is
            new_texts.append(result.caption)
            new_sources.append(source)
            old_ids.extend(text_id for text_id, _ in old)
            if old:
                report.replaced += 1
            else:
                report.added += 1
        if new_texts:
            # The new caption goes in before the old one goes out: a crash in between
            # leaves two, which the next sync replaces; a search never sees none.
            texts.add(new_texts, encoder(), source=new_sources)
        if old_ids:
            texts.remove(old_ids)
    return report


def changed_meanwhile(collection: Collection, file_id: int, content_hash: str | None) -> bool:
    """Whether the file is no longer indexed with this content (a long sync beside `clipdex index`)."""
    row = collection.store.get_row(file_id)
    return row is None or row["status"] != OK or row["content_hash"] != content_hash
