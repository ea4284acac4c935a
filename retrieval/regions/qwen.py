"""Qwen-VL's box outputs.

- Qwen2-VL writes ``<|object_ref_start|>LABEL<|object_ref_end|><|box_start|>(x0,y0),(x1,y1)<|box_end|>``
  with coordinates on a 0..1000 grid over the picture.
- Qwen2.5-VL answers a request for JSON with a list of ``{"bbox_2d": [x0, y0, x1, y1],
  "label": ...}`` (or ``"text_content"`` for text), usually in a ```json fence, in pixels of
  the picture as the model saw it (its processor resizes): ``seen_size`` scales them back.
"""

from __future__ import annotations

import json
import re

from retrieval.regions.region import Region, RegionParseError, clipped

GRID = 1000
_REF_BOX = re.compile(
    r"(?:<\|object_ref_start\|>(.*?)<\|object_ref_end\|>)?\s*<\|box_start\|>(.*?)<\|box_end\|>", re.DOTALL)
_PAIR = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_grid_boxes(output: str, width: int, height: int, method: str = "qwen2-vl") -> list[Region]:
    """Qwen2-VL's ``<|box_start|>`` boxes; a box without a label of its own takes the last one seen."""
    regions, label = [], ""
    for match in _REF_BOX.finditer(output):
        label = (match.group(1) or label).strip()
        pairs = _PAIR.findall(match.group(2))
        if len(pairs) != 2:
            raise RegionParseError(f"Qwen2-VL box is not two (x,y) pairs: {match.group(2)[:80]!r}")
        (x0, y0), (x1, y1) = ((float(x), float(y)) for x, y in pairs)
        box = (x0 / GRID * width, y0 / GRID * height, x1 / GRID * width, y1 / GRID * height)
        regions.append(Region(box=clipped(box, width, height), label=label, method=method))
    if not regions and "<|box_start|>" in output:
        raise RegionParseError(f"Qwen2-VL output has an unfinished box: {output[:200]!r}")
    return regions


def _json_items(output: str) -> list:
    fenced = _FENCE.search(output)
    text = (fenced.group(1) if fenced else output).strip()
    if not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        start, end = text.find("["), text.rfind("]")  # prose around a bare list
        try:
            items = json.loads(text[start:end + 1]) if 0 <= start < end else None
        except ValueError:
            items = None
        if items is None:
            raise RegionParseError(f"Qwen2.5-VL output is not JSON boxes: {output[:200]!r}") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise RegionParseError(f"Qwen2.5-VL output is not a list of boxes: {output[:200]!r}")
    return items


def parse_json_boxes(output: str, width: int, height: int, seen_size: tuple[int, int] | None = None,
                     method: str = "qwen2.5-vl") -> list[Region]:
    """Qwen2.5-VL's JSON boxes in upright pixels of the original picture; ``seen_size``
    (width, height) is the size the model saw (default: the picture's own)."""
    seen_w, seen_h = seen_size or (width, height)
    regions = []
    for item in _json_items(output):
        box = item.get("bbox_2d") if isinstance(item, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
            raise RegionParseError(f"Qwen2.5-VL item has no bbox_2d of four numbers: {str(item)[:120]!r}")
        label = item.get("label") or item.get("text_content") or ""
        x0, y0, x1, y1 = box
        scaled = (x0 * width / seen_w, y0 * height / seen_h, x1 * width / seen_w, y1 * height / seen_h)
        regions.append(Region(box=clipped(scaled, width, height), label=str(label), method=method))
    return regions
