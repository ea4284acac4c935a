"""Re-embed a collection with another model, side by side, and switch when it is done.

The new collection is built in ``DATA_DIR.next`` (the same folders, the same texts, the
new model) while the old one stays usable for searches; a marker file is written last.
The switch is two renames: ``DATA_DIR`` -> ``DATA_DIR.previous``, ``DATA_DIR.next`` ->
``DATA_DIR``. A crash between them leaves no ``DATA_DIR`` and a complete ``.next``, which
``finish_switch`` (run whenever a collection is opened) completes. A crash before the
marker leaves a partial ``.next`` that the next reindex with the same model resumes
(indexing is incremental); one for another model is started over.
"""

from __future__ import annotations

import os
import shutil
from typing import Callable

from sqlalchemy import select

from indexer.captions import caption_source, copy_caption_cache, file_id_of
from indexer.collection import Collection, CollectionError
from indexer.collection.switch import COMPLETE_MARKER, next_dir, previous_dir
from indexer.ingest import IndexOptions, IndexReport, index_folders
from indexer.prepare_locating import prepare_locating, prepares_locating
from indexer.store import sqlite_url, texts_table
from retrieval.models import canonical_spec


def reindex_with_model(collection: Collection, new_spec: str, encoder_factory: Callable,
                       options: IndexOptions | None = None) -> IndexReport:
    """Build the collection again with ``new_spec`` beside the old one, then switch."""
    options = options or IndexOptions()
    if collection.store.url != sqlite_url(collection.data_dir):
        raise CollectionError("reindex --model builds a second SQLite store beside the first; with another "
                              "database, index into a new database (and data dir) with the new model instead")
    roots = collection.store.roots()
    if not roots:
        raise CollectionError(f"{collection.data_dir} has no folders to re-index")
    with collection.writer_lock():
        target = next_dir(collection.data_dir)
        fresh = Collection(target, index_config=collection.index_config)
        if fresh.model_spec not in (None, canonical_spec(new_spec)):  # half-built for another model: start over
            fresh.close()
            shutil.rmtree(target)
            fresh = Collection(target, index_config=collection.index_config)
        try:
            encoder = None

            def shared_encoder():
                nonlocal encoder
                encoder = encoder or encoder_factory()
                return encoder

            report = index_folders(fresh, roots, new_spec, shared_encoder, options)
            if prepares_locating(collection):  # showing where, prepared for the new model's queries too
                prepare_locating(fresh, shared_encoder, options.max_pixels, options.progress)
            copy_caption_cache(collection.store, fresh.store)  # captions are of pictures, whatever the model
            texts = _texts_of(collection, fresh)
            if texts:
                from indexer.texts import TextCollection

                for source, group in texts.items():
                    TextCollection(fresh).add(group, shared_encoder(), source=source)
            with open(os.path.join(target, COMPLETE_MARKER), "w") as handle:
                handle.write(new_spec)
        finally:
            fresh.close()
        os.replace(collection.data_dir, previous_dir(collection.data_dir))
        os.replace(target, collection.data_dir)
    os.unlink(os.path.join(collection.data_dir, COMPLETE_MARKER))
    shutil.rmtree(previous_dir(collection.data_dir), ignore_errors=True)
    return report


def _texts_of(collection: Collection, fresh: Collection) -> dict[str | None, list[str]]:
    """The collection's texts (image->text search), by source, to embed with the new model.
    A caption text goes to its file's id in the new collection (ids are given anew)."""
    old_paths = {row["id"]: row["path"] for row in collection.store.iter_ok()}
    new_ids = {row["path"]: row["id"] for row in fresh.store.iter_ok()}
    out: dict[str | None, list[str]] = {}
    with collection.store.engine.connect() as conn:
        for text, source in conn.execute(select(texts_table.c.text, texts_table.c.source).order_by(texts_table.c.id)):
            file_id = file_id_of(source or "")
            if file_id is not None:
                new_id = new_ids.get(old_paths.get(file_id))
                if new_id is None:  # its file is no longer indexed
                    continue
                source = caption_source(new_id)
            out.setdefault(source, []).append(text)
    return out
