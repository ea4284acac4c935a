"""The collection's texts for image->text search (captions, labels, product names...).

Modules (test file in brackets):

- collection.py  TextCollection: rows in SQL, vectors in their own FAISS index, repaired or embedded again when lost (tests/integration/test_text_index_repair.py)
- files.py       texts from .txt, .csv and .jsonl files (tests/unit/indexer/test_texts_file.py)
"""

from indexer.texts.collection import MAX_TEXT_CHARS, TextCollection
from indexer.texts.files import TextFileError, read_text_file

__all__ = ["MAX_TEXT_CHARS", "TextCollection", "TextFileError", "read_text_file"]
