"""The two seams of an index run: how files get embedded (EmbedPass: in this process or on
a Ray cluster), and who hears what happened to files (FileEvents: captions follow them)."""

from __future__ import annotations

from typing import Protocol

from indexer.collection import Collection
from indexer.ingest.options import IndexOptions, IndexReport
from indexer.ingest.progress import Progress
from indexer.store import FileState


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
