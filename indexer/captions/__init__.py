"""Captions of a collection's images: cached by content, kept as texts, following their files.

Modules (test file in brackets):

- cache.py    captions cached in the database by (content, captioner, prompt); captioning rows in a time budget (tests/integration/test_caption_cache.py)
- sources.py  a caption text's source ``caption:FILE_ID`` (tests/integration/test_caption_texts.py)
- follow.py   the FileEvents listener that keeps caption texts with their files (tests/integration/test_caption_texts.py)
- sync.py     sync_caption_texts: exactly one caption text per indexed image (tests/integration/test_caption_texts.py)
"""

from indexer.captions.cache import (
    CaptionCache,
    CaptionResult,
    caption_files,
    caption_rows,
    copy_caption_cache,
    read_images,
)
from indexer.captions.follow import CaptionsFollowFiles
from indexer.captions.sources import CAPTION_SOURCE, caption_source, file_id_of
from indexer.captions.sync import CaptionTextsReport, sync_caption_texts

__all__ = ["CAPTION_SOURCE", "CaptionCache", "CaptionResult", "CaptionTextsReport", "CaptionsFollowFiles",
           "caption_files", "caption_rows", "caption_source", "copy_caption_cache", "file_id_of", "read_images",
           "sync_caption_texts"]
