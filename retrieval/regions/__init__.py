"""Regions of pictures: boxes with a label, a score and the method that found them, in the
upright pixel coordinates of the original picture; the box formats of the VLMs that ground,
detect and read text; drawing them.

Modules (test file in brackets):

- region.py     Region, box helpers (clip, IoU), RegionParseError (tests/unit/retrieval/test_regions.py)
- florence.py   Florence-2's <OD>, <CAPTION_TO_PHRASE_GROUNDING> and <OCR_WITH_REGION> outputs (tests/unit/retrieval/test_regions.py)
- paligemma.py  PaliGemma's ``detect`` output (<locYYYY> tokens) (tests/unit/retrieval/test_regions.py)
- qwen.py       Qwen2-VL's <|box_start|> boxes and Qwen2.5-VL's JSON boxes (tests/unit/retrieval/test_regions.py)
- draw.py       pictures with their boxes and heat maps drawn on (tests/unit/retrieval/test_regions.py)
"""

from retrieval.regions.draw import draw_regions, overlay_heatmap
from retrieval.regions.region import Box, Region, RegionParseError, box_of_points, clipped, iou

__all__ = ["Box", "Region", "RegionParseError", "box_of_points", "clipped", "draw_regions", "iou", "overlay_heatmap"]
