"""Which OCR engine a spec names:

- ``rapidocr`` (the default): PP-OCRv4 on ONNX Runtime, the detector looking at the picture
  shrunk (pictures without text cost only that); ``rapidocr:SIDE`` sets the detector's long
  side in pixels, ``rapidocr:full`` detects at full size;
- ``tesseract`` or ``tesseract:LANGS`` (``deu+eng``): the Tesseract program;
- ``transformers:ORG/NAME`` or a model folder: a VLM that reads text (Florence-2, PaliGemma,
  Qwen2-VL / Qwen2.5-VL) through the captioning backends.
"""

from __future__ import annotations

import os

from retrieval.models import TRANSFORMERS_PREFIX
from retrieval.ocr.base import DEFAULT_OCR, OcrEngine, OcrError

RAPIDOCR, TESSERACT = "rapidocr", "tesseract"
ENGINES = ("rapidocr", "rapidocr:full", "rapidocr:SIDE", "tesseract[:LANGS]", "transformers:ORG/NAME")


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
        from retrieval.ocr.rapid import RapidOcrEngine

        if option not in ("", "full") and not option.isdigit():
            raise OcrError(f"unknown rapidocr option {option!r}: use rapidocr, rapidocr:full or rapidocr:SIDE "
                           "(the detector's long side in pixels)")
        side = 0 if option == "full" else int(option) if option else None
        return RapidOcrEngine(threads=threads, det_side=side)
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
