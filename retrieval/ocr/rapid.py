"""RapidOCR: PaddleOCR's PP-OCRv4 detection, direction and recognition models as ONNX files
shipped in the ``rapidocr-onnxruntime`` wheel, run on ONNX Runtime (`pip install 'clipdex[ocr]'`).

Text turned by 90 degrees is read from its upright crop, text upside down is turned by the
direction model, so turned pictures are read as well as upright ones.

The detector is the first stage: it looks for text on the picture shrunk to half its size,
its long side kept between 480 and 960 pixels (``rapidocr:SIDE`` fixes it), which costs a
fraction of the full size (bench/ocr.py measures what each size saves and misses: text of
20 pixels and more is found as at full size); a picture where it finds none costs nothing
more. The lines it finds are cut from the full-size picture and recognised there.
``rapidocr:full`` detects at full size, for small print.
"""

from __future__ import annotations

import copy

import numpy as np
from PIL import Image

from retrieval.ocr.base import OcrEngine, OcrError, OcrNotInstalled
from retrieval.regions import Region, box_of_points, clipped

AUTO_SIDE = (480, 960)  # the detector's long side by default: half the picture's, within these
FULL_SIZE_CAP = 2000  # RapidOCR's own largest side
INSTALL = "pip install 'clipdex[ocr]' (rapidocr-onnxruntime)"


class RapidOcrEngine(OcrEngine):
    method = "rapidocr"

    def __init__(self, threads: int | None = None, det_side: int | None = None):
        """``det_side``: the long side the detector looks at; None: half the picture's
        (within AUTO_SIDE); 0: full size."""
        try:
            import rapidocr_onnxruntime  # noqa: F401
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise OcrNotInstalled(f"the OCR engine rapidocr is not installed: {INSTALL}") from None
        options = {"intra_op_num_threads": threads} if threads else {}
        try:
            self._ocr = RapidOCR(inter_op_num_threads=1, **options)
        except Exception as exc:  # a broken install: model files missing or unreadable
            raise OcrError(f"rapidocr could not load its models: {exc}") from None
        # The detector sees the picture at the size given here, never enlarged (RapidOCR's
        # own call enlarges the short side to 736 pixels).
        self._detect = copy.copy(self._ocr.text_det)
        self._detect.limit_side_len = 32
        self.det_side = det_side
        shown = "full" if det_side == 0 else det_side or "{}-{}".format(*AUTO_SIDE)
        self.name = f"rapidocr-{_installed_version()}+det{shown}"

    def _read(self, image: Image.Image) -> list[Region]:
        width, height = image.size
        try:
            if min(width, height) < 64 or max(width, height) > 8 * min(width, height):
                found = self._ocr(_bgr(image))[0] or []  # RapidOCR pads slivers and tiny pictures itself
            else:
                found = self._detect_then_recognise(image)
        except Exception as exc:  # an odd picture the pipeline cannot take is this picture's failure
            raise OcrError(f"rapidocr failed on this picture ({type(exc).__name__}): {exc}") from None
        lines = []
        for points, text, confidence in found:
            quad = tuple((float(x), float(y)) for x, y in points)
            lines.append(Region(box=clipped(box_of_points(quad), width, height), label=str(text),
                                score=round(float(confidence), 4), method=self.method, quad=quad))
        return lines

    def _detect_then_recognise(self, image: Image.Image) -> list:
        long_side = max(image.size)
        side = {None: min(AUTO_SIDE[1], max(AUTO_SIDE[0], long_side // 2)), 0: FULL_SIZE_CAP}.get(self.det_side,
                                                                                            self.det_side)
        scale = min(1.0, side / long_side)
        seen = image if scale == 1.0 else image.resize(
            (max(32, round(image.width * scale)), max(32, round(image.height * scale))), Image.BILINEAR)
        boxes, _ = self._detect(_bgr(seen))
        if boxes is None or len(boxes) == 0:
            return []  # no text: the recogniser never runs
        boxes = np.asarray(boxes, dtype=np.float32) * np.array(
            [image.width / seen.width, image.height / seen.height], np.float32)
        boxes = self._ocr.sorted_boxes(boxes)
        crops = self._ocr.get_crop_img_list(_bgr(image), boxes)  # read at full size
        crops, _, _ = self._ocr.text_cls(crops)
        recognised, _ = self._ocr.text_rec(crops, False)
        return [(box.tolist(), found[0], found[1]) for box, found in zip(boxes, recognised)
                if float(found[1]) >= self._ocr.text_score and found[0].strip()]


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # OpenCV's channel order


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return "unknown"
