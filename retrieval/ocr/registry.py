"""Which OCR engine a spec names:

- ``rapidocr`` (the default): PP-OCRv4 on ONNX Runtime, with a first stage that skips
  pictures without text; ``rapidocr:full`` reads every picture fully;
- ``tesseract`` or ``tesseract:LANGS`` (``deu+eng``): the Tesseract program;
- ``transformers:ORG/NAME`` or a model folder: a VLM that reads text (Florence-2, PaliGemma,
  Qwen2-VL / Qwen2.5-VL) through the captioning backends.
"""

from __future__ import annotations

import os

from retrieval.models import TRANSFORMERS_PREFIX
from retrieval.ocr.base import DEFAULT_OCR, OcrEngine, OcrError

RAPIDOCR, TESSERACT = "rapidocr", "tesseract"
ENGINES = ("rapidocr", "rapidocr:full", "tesseract[:LANGS]", "transformers:ORG/NAME")


def check_spec(spec: str) -> None:
    """Refuse at once what cannot name an engine (a folder given where the engine goes)."""
    kind = spec.partition(":")[0]
    if kind in (RAPIDOCR, TESSERACT) or spec.startswith(TRANSFORMERS_PREFIX):
        return
    if os.path.isdir(spec) and os.path.exists(os.path.join(spec, "config.json")):
        return
    hint = " (a folder: write --ocr after the folders to index)" if os.path.exists(spec) else ""
    raise OcrError(f"unknown OCR engine {spec!r}{hint}: use one of {', '.join(ENGINES)}")


def load_ocr_engine(spec: str | None = None, threads: int | None = None, device: str | None = None) -> OcrEngine:
    spec = (spec or DEFAULT_OCR).strip()
    check_spec(spec)
    kind, _, option = spec.partition(":")
    if kind == RAPIDOCR:
        from retrieval.ocr.rapid import DEFAULT_GATE_SIDE, RapidOcrEngine

        if option not in ("", "full"):
            raise OcrError(f"unknown rapidocr option {option!r}: use rapidocr or rapidocr:full")
        return RapidOcrEngine(threads=threads, gate_side=0 if option == "full" else DEFAULT_GATE_SIDE)
    if kind == TESSERACT:
        from retrieval.ocr.tesseract import TesseractEngine

        return TesseractEngine(option or "eng")
    from retrieval.captioning import CaptionerError, load_captioner

    try:
        captioner = load_captioner(spec, device=device)
    except CaptionerError as exc:
        raise OcrError(str(exc)) from None
    from retrieval.ocr.vlm import VlmOcrEngine

    if not hasattr(captioner, "generate_raw"):
        raise OcrError(f"{captioner.name} does not read text: use one of {', '.join(ENGINES)}")
    return VlmOcrEngine(captioner)
