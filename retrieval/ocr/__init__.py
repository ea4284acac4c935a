"""OCR: the text in pictures, line by line, each line a Region (text, box, corners, confidence).

Modules (test file in brackets):

- base.py       OcrEngine (a picture in, lines out), the OCR errors (tests/unit/retrieval/test_ocr.py)
- registry.py   load_ocr_engine: which engine a spec names (tests/unit/retrieval/test_ocr.py)
- rapid.py      RapidOCR: PP-OCRv4 on ONNX Runtime, with a first stage that skips pictures without text (tests/unit/retrieval/test_ocr.py)
- tesseract.py  the Tesseract program, words gathered into lines (tests/unit/retrieval/test_ocr.py)
- vlm.py        Florence-2, PaliGemma, Qwen-VL reading text through the captioning backends (tests/integration/test_vlm_regions.py)
- worker.py     one worker process: reads the pictures it is sent; read_file (tests/integration/test_ocr_collection.py)
- workers.py    a pool of worker processes; a picture that crashes its worker fails alone (tests/integration/test_ocr_collection.py)
- matching.py   lexical matching that forgives OCR: folding, near matches, which lines match (tests/unit/retrieval/test_ocr_matching.py)
"""

from retrieval.ocr.base import DEFAULT_OCR, OcrEngine, OcrError, OcrNotInstalled, full_text
from retrieval.ocr.registry import ENGINES, load_ocr_engine

__all__ = ["DEFAULT_OCR", "ENGINES", "OcrEngine", "OcrError", "OcrNotInstalled", "full_text", "load_ocr_engine"]
