"""Text in pictures: reading every indexed picture once with the collection's OCR engine,
keeping the readings with their files, and finding pictures by their words.

Modules (test file in brackets):

- run.py     read_collection_texts: what the engine has not read yet, read and committed in steps (tests/integration/test_ocr_collection.py)
- ray_read.py  reading on a Ray cluster, in tasks (tests/integration/test_ray_index.py)
- follow.py  the FileEvents listener: the text of changed and removed files goes (tests/integration/test_ocr_collection.py)
- search.py  search_text_in_images: forgiving lexical search, alone or with a semantic query (tests/integration/test_ocr_collection.py)
"""

from indexer.ocr.follow import OcrFollowsFiles
from indexer.ocr.run import (
    OcrOptions,
    OcrReport,
    engine_name,
    read_collection_texts,
    remembered_engine,
    stop_reading,
)
from indexer.ocr.search import search_text_in_images, text_of_file

__all__ = ["OcrFollowsFiles", "OcrOptions", "OcrReport", "engine_name", "read_collection_texts",
           "remembered_engine", "search_text_in_images", "stop_reading", "text_of_file"]
