"""The two seams of an index run: how files get embedded (EmbedPass: in this process or on
a Ray cluster), and who hears what happened to files (FileEvents: captions follow them)."""

from __future__ import annotations

import logging
from typing import Protocol

from indexer.collection import Collection
from indexer.ingest.options import IndexOptions, IndexReport
from indexer.ingest.progress import Progress
from indexer.store import FileState

log = logging.getLogger(__name__)


class EmbedPass(Protocol):
    def __call__(self, collection: Collection, index, encoder, items: list[tuple[int, str]],
                 moved_by_hash: dict[str, list[FileState]], options: IndexOptions, report: IndexReport,
                 progress: Progress) -> list[tuple[int, str]]:
        """Embed ``items`` (file id, path) into ``index`` and their rows; a file whose content
        hash is in ``moved_by_hash`` takes that vanished file's vector instead. Returns the
        items still pending (further copies of a moved file), for one more pass."""


class FileEvents(Protocol):
    """What an index run tells about files whose content or id changed. Calls come after
    the rows changed; a listener's failure must not stop the run (log and go on)."""

    def changed(self, file_ids: list[int]) -> None:
        """These files' content changed (same id, new picture)."""

    def moved(self, moves: dict[int, int]) -> None:
        """{old id: new id}: a file found again elsewhere, same content."""

    def removed(self, file_ids: list[int]) -> None:
        """These files left the collection."""


class NoFileEvents:
    def changed(self, file_ids: list[int]) -> None:
        pass

    def moved(self, moves: dict[int, int]) -> None:
        pass

    def removed(self, file_ids: list[int]) -> None:
        pass


class FileEventsToAll:
    """Tells every listener in turn; one that fails is logged and the others still hear."""

    def __init__(self, *listeners: FileEvents):
        self.listeners = listeners

    def _tell(self, what: str, argument) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, what)(argument)
            except Exception:  # a listener's failure must not stop the run
                log.exception("%s could not follow the files (%s)", type(listener).__name__, what)

    def changed(self, file_ids: list[int]) -> None:
        self._tell("changed", file_ids)

    def moved(self, moves: dict[int, int]) -> None:
        self._tell("moved", moves)

    def removed(self, file_ids: list[int]) -> None:
        self._tell("removed", file_ids)
