"""Reading text with a generative VLM through the captioning backends:

- Florence-2: ``<OCR_WITH_REGION>``, each line with its quadrilateral;
- PaliGemma: ``ocr``, the text only;
- Qwen2.5-VL and other chat VLMs: asked for JSON lines with ``bbox_2d``; an answer that is
  plain text is read as lines of text.

Lines a model gives no box for get the whole picture as theirs (the text is still found,
only not where)."""

from __future__ import annotations

from PIL import Image

from retrieval.captioning import CaptionerError
from retrieval.ocr.base import OcrEngine, OcrError
from retrieval.regions import Region, RegionParseError
from retrieval.regions.florence import parse_ocr_regions
from retrieval.regions.qwen import parse_json_boxes

FLORENCE_OCR = "<OCR_WITH_REGION>"
PALIGEMMA_OCR = "ocr"
CHAT_OCR = ('Read all the text in this image. Answer with JSON only: a list of {"bbox_2d": [x1, y1, x2, y2], '
            '"text_content": "..."}, one item per line of text.')


class VlmOcrEngine(OcrEngine):
    def __init__(self, captioner):
        family = captioner.family
        if family != "florence2" and family != "paligemma" and not captioner.chat:
            raise OcrError(f"{captioner.name} does not read text: use Florence-2, PaliGemma, Qwen2-VL/Qwen2.5-VL "
                           "(or another chat VLM), rapidocr or tesseract")
        self.captioner = captioner
        self.family = family
        self.method = family or "vlm"
        self.prompt = FLORENCE_OCR if family == "florence2" else PALIGEMMA_OCR if family == "paligemma" else CHAT_OCR
        self.name = f"{captioner.name}#ocr"

    def _read(self, image: Image.Image) -> list[Region]:
        try:
            output = self.captioner.generate_raw([image], self.prompt)[0]
        except CaptionerError as exc:
            raise OcrError(str(exc)) from None
        width, height = image.size
        try:
            if self.family == "florence2":
                return parse_ocr_regions(output.text, width, height, self.method)
            if self.family != "paligemma" and output.text.lstrip().startswith(("```", "[", "{")):
                return parse_json_boxes(output.text, width, height, output.seen_size, self.method)
        except RegionParseError as exc:
            raise OcrError(f"{self.captioner.name} wrote no readable text lines: {exc}") from None
        whole = (0.0, 0.0, float(width), float(height))
        return [Region(box=whole, label=line.strip(), method=self.method)
                for line in output.text.splitlines() if line.strip()]
