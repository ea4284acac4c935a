"""How a caption is kept among the collection's texts: a text whose source is ``caption:FILE_ID``."""

from __future__ import annotations

CAPTION_SOURCE = "caption:"


def caption_source(file_id: int) -> str:
    return f"{CAPTION_SOURCE}{file_id}"


def file_id_of(source: str) -> int | None:
    """The file id of a caption text's source; None for any other source."""
    rest = source[len(CAPTION_SOURCE):] if source.startswith(CAPTION_SOURCE) else ""
    return int(rest) if rest.isdigit() else None
