"""What a search returns (Hit) and what it may be narrowed to (SearchFilters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class SearchFilters:
    folder: str | None = None  # only files under this folder
    file_types: list[str] | None = None  # extensions, e.g. ["jpg", "png"]
    date_from: datetime | None = None  # EXIF date taken, inclusive
    date_to: datetime | None = None

    def active(self) -> bool:
        return bool(self.folder or self.file_types or self.date_from or self.date_to)


@dataclass
class Hit:
    score: float
    file_id: int
    vector_id: int
    path: str
    width: int | None
    height: int | None
    taken_at: datetime | None
    rerank_score: float | None = None  # set when a cross-encoder re-ordered the hits
    hybrid_score: float | None = None  # set when captions took part in the ranking (indexer/hybrid.py)
    text_score: float | None = None  # how well the text read in the picture matches (indexer/ocr/search.py)
    regions: list = field(default_factory=list)  # Regions: matching text lines, located objects
    heatmap: list | None = None  # where the query is, rows x columns over the picture, 0..1 (when located)


def hit_of_row(row: dict, score: float) -> Hit:
    return Hit(score=float(score), file_id=row["id"], vector_id=int(row["vector_id"]), path=row["path"],
               width=row["width"], height=row["height"], taken_at=row["taken_at"])
