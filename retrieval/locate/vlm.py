"""Grounding and detection by a generative VLM, through the captioning backends: each family
is asked its documented way and its boxes parsed (retrieval/regions/):

- Florence-2: ``<CAPTION_TO_PHRASE_GROUNDING>`` + the phrase (each label in turn to detect);
- PaliGemma: ``detect PHRASE`` (``detect A ; B`` to detect);
- Qwen2-VL: a request to find the phrase; it answers with ``<|box_start|>`` boxes;
- Qwen2.5-VL and other chat VLMs: a request for JSON boxes (``bbox_2d``).

Boxes are in upright pixels of the picture given; VLMs give no scores."""

from __future__ import annotations

from typing import Sequence

from PIL import Image

from retrieval.captioning import CaptionerError
from retrieval.locate.errors import LocateError
from retrieval.regions import Region, RegionParseError
from retrieval.regions.florence import parse_boxes
from retrieval.regions.paligemma import parse_detections
from retrieval.regions.qwen import parse_grid_boxes, parse_json_boxes

FLORENCE_GROUNDING = "<CAPTION_TO_PHRASE_GROUNDING>"
QWEN2_FIND = "Find <|object_ref_start|>{}<|object_ref_end|> in the image and give its box."
CHAT_FIND = ('Locate every {} in this image. Answer with JSON only: a list of {{"bbox_2d": [x1, y1, x2, y2], '
             '"label": "..."}}.')


class VlmLocator:
    def __init__(self, captioner):
        family = getattr(captioner, "family", "")
        if family not in ("florence2", "paligemma") and not getattr(captioner, "chat", False):
            raise LocateError(f"{captioner.name} does not find regions: use Florence-2, PaliGemma or a chat VLM "
                              "such as Qwen2-VL / Qwen2.5-VL")
        self.captioner, self.family = captioner, family
        self.name = f"vlm:{family or 'chat'}"

    def _ask(self, image: Image.Image, prompt: str, label: str) -> list[Region]:
        try:
            output = self.captioner.generate_raw([image], prompt)[0]
        except CaptionerError as exc:
            raise LocateError(str(exc)) from None
        width, height = image.size
        try:
            if self.family == "florence2":
                regions = parse_boxes(output.text, width, height, self.name)
            elif self.family == "paligemma":
                regions = parse_detections(output.text, width, height, self.name)
            elif "<|box_start|>" in output.text:
                regions = parse_grid_boxes(output.text, width, height, self.name)
            else:
                regions = parse_json_boxes(output.text, width, height, output.seen_size, self.name)
        except RegionParseError as exc:
            raise LocateError(f"{self.captioner.name} answered with no readable boxes: {exc}") from None
        if self.family == "florence2" and label:  # Florence-2 labels a box with the words it matched
            regions = [Region(r.box, label, r.score, r.method) for r in regions]
        return regions

    def _prompt(self, phrase: str) -> str:
        if self.family == "florence2":
            return FLORENCE_GROUNDING + phrase
        if self.family == "paligemma":
            return f"detect {phrase}"
        if self.family == "qwen2_vl":
            return QWEN2_FIND.format(phrase)
        return CHAT_FIND.format(phrase)

    def locate(self, images: Sequence[Image.Image], phrase: str) -> list[list[Region]]:
        """The boxes of ``phrase`` in each picture (none where the model finds none)."""
        return [self._ask(image.convert("RGB"), self._prompt(phrase), phrase) for image in images]

    def detect(self, images: Sequence[Image.Image], labels: Sequence[str]) -> list[list[Region]]:
        """The boxes of each label in each picture."""
        if not labels:
            raise LocateError("give at least one label to detect")
        out = []
        for image in images:
            image = image.convert("RGB")
            if self.family == "paligemma":  # one request names them all
                out.append(self._ask(image, "detect " + " ; ".join(labels), ""))
            else:
                out.append([region for label in labels for region in self._ask(image, self._prompt(label), label)])
        return out
