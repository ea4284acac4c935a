"""RapidOCR: PaddleOCR's PP-OCRv4 detection, direction and recognition models as ONNX files
shipped in the ``rapidocr-onnxruntime`` wheel, run on ONNX Runtime (`pip install 'clipdex[ocr]'`).

Text rotated by 90 degrees is read from its upright crop, text upside down is turned by the
direction model, so rotated pictures are read as well as upright ones.

A first stage skips pictures that hold no text: the detector alone, on the picture shrunk
to ``gate_side`` pixels on its long side, costs a fraction of a full reading (bench/ocr.py
measures what it saves and what it misses); only where it finds text is the picture read.
"""

from __future__ import annotations

import copy

import numpy as np
from PIL import Image

from retrieval.ocr.base import OcrEngine, OcrError, OcrNotInstalled
from retrieval.regions import Region, box_of_points, clipped

DEFAULT_GATE_SIDE = 480  # long side for the first stage; 0 reads every picture fully
INSTALL = "pip install 'clipdex[ocr]' (rapidocr-onnxruntime)"


class RapidOcrEngine(OcrEngine):
    method = "rapidocr"

    def __init__(self, threads: int | None = None, gate_side: int = DEFAULT_GATE_SIDE):
        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise OcrNotInstalled(f"the OCR engine rapidocr is not installed: {INSTALL}") from None
        options = {"intra_op_num_threads": threads} if threads else {}
        try:
            self._ocr = RapidOCR(inter_op_num_threads=1, **options)
        except Exception as exc:  # a broken install: model files missing or unreadable
            raise OcrError(f"rapidocr could not load its models: {exc}") from None
        self.gate_side = gate_side
        # The first stage's detector: the same model, but never enlarging the picture
        # (the reading's detector scales a short side up to 736 pixels).
        self._gate = copy.copy(self._ocr.text_det)
        self._gate.limit_side_len = 32
        version = getattr(rapidocr_onnxruntime, "__version__", None) or _installed_version()
        self.name = f"rapidocr-{version}" + (f"+gate{gate_side}" if gate_side else "")

    def _read(self, image: Image.Image) -> list[Region]:
        if self.gate_side and not self._may_hold_text(image):
            return []
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # RapidOCR takes OpenCV's channel order
        try:
            found, _ = self._ocr(bgr)
        except Exception as exc:  # an odd picture the pipeline cannot take is this picture's failure
            raise OcrError(f"rapidocr failed on this picture ({type(exc).__name__}): {exc}") from None
        width, height = image.size
        lines = []
        for points, text, confidence in found or []:
            quad = tuple((float(x), float(y)) for x, y in points)
            lines.append(Region(box=clipped(box_of_points(quad), width, height), label=str(text),
                                score=round(float(confidence), 4), method=self.method, quad=quad))
        return lines

    def _may_hold_text(self, image: Image.Image) -> bool:
        """The first stage: does the detector find any text in the shrunk picture?"""
        scale = self.gate_side / max(image.size)
        small = image if scale >= 1 else image.resize(
            (max(32, round(image.width * scale)), max(32, round(image.height * scale))), Image.BILINEAR)
        boxes, _ = self._gate(np.ascontiguousarray(np.asarray(small)[:, :, ::-1]))
        return boxes is not None and len(boxes) > 0


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return "unknown"
