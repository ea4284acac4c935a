"""Text read in pictures follows their files: readings are keyed by content, so a moved or
renamed file keeps its text with nothing to do; when a file changes or leaves, the reading
of its content goes, unless another file holds the same content."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from indexer.collection import Collection
from indexer.store.ocr_texts import OcrTexts

log = logging.getLogger(__name__)


class OcrFollowsFiles:
    """The FileEvents listener of an index run for text read in pictures; ``dropped``
    counts the readings that went."""

    def __init__(self, collection: Collection):
        self.texts = OcrTexts(collection.store)
        self.dropped = 0

    def _drop(self, file_ids: list[int]) -> None:
        if not file_ids:
            return
        try:
            self.dropped += self.texts.drop_for_files(file_ids)
        except DBAPIError as exc:  # best effort: the next reading pass drops what no file holds
            log.warning("the text of %d changed or removed pictures stays until the next reading (%s)",
                        len(file_ids), exc)

    def changed(self, file_ids: list[int]) -> None:
        self._drop(file_ids)  # the new content is read by this run's reading pass

    def moved(self, moves: dict[int, int]) -> None:
        pass  # same content: the reading is already the new path's

    def removed(self, file_ids: list[int]) -> None:
        self._drop(file_ids)
