"""Caption texts follow their files: an index run's FileEvents drop the caption of a file
that changed or left, and hand a moved file's caption to its new id.

Best effort: while another writer holds the texts, or when their index cannot be read,
the captions stay (with a warning), and the next ``sync_caption_texts`` (`clipdex
index-captions`) removes them.
"""

from __future__ import annotations

import logging

from indexer.captions.sources import caption_source
from indexer.collection import Collection, CollectionBusy
from indexer.texts import TextCollection
from retrieval.index.vector_index import IndexFileError

log = logging.getLogger(__name__)


def drop_caption_texts(collection: Collection, file_ids: list[int]) -> int:
    """Remove the caption texts of these files; returns how many went.

    Best effort: while another writer holds the texts, or when their index cannot be
    read, they stay (with a warning), and the next `sync_caption_texts` removes them (it
    drops captions of files no longer indexed and re-captions files whose content changed).
    """
    if not file_ids:
        return 0
    texts = TextCollection(collection)
    ids = texts.ids_of_sources([caption_source(i) for i in file_ids])
    if not ids:
        return 0
    try:
        return texts.remove(ids)
    except (CollectionBusy, IndexFileError, OSError) as exc:
        log.warning("%d captions of changed or removed files stay until `clipdex index-captions` (%s)", len(ids), exc)
        return 0


def move_caption_texts(collection: Collection, moves: dict[int, int]) -> None:
    """A file that moved (same content, new id) keeps its caption: {old id: new id}."""
    TextCollection(collection).rename_sources({caption_source(old): caption_source(new) for old, new in moves.items()})


class CaptionsFollowFiles:
    """The FileEvents listener of an index run that keeps caption texts with their files;
    ``dropped`` counts the captions that went (`clipdex index-captions` redoes them)."""

    def __init__(self, collection: Collection):
        self.collection = collection
        self.dropped = 0

    def changed(self, file_ids: list[int]) -> None:
        self.dropped += drop_caption_texts(self.collection, file_ids)  # a caption describes content

    def moved(self, moves: dict[int, int]) -> None:
        move_caption_texts(self.collection, moves)

    def removed(self, file_ids: list[int]) -> None:
        self.dropped += drop_caption_texts(self.collection, file_ids)
