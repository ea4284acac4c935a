"""PaliGemma's ``detect LABEL ; LABEL`` output: ``<locYYYY>`` tokens, four per box, in the
order y0 x0 y1 x1, each a position on a 1024-step grid over the picture's height or width,
then the label; boxes are separated by `` ; `` (``<loc0256><loc0128><loc0768><loc0896> cat``).
A ``segment`` output's ``<segNNN>`` tokens after the box are ignored."""

from __future__ import annotations

import re

from retrieval.regions.region import Region, RegionParseError, clipped

GRID = 1024
_ENTRY = re.compile(r"^((?:<loc\d{4}>){4})\s*((?:<seg\d{3}>)*)\s*(.*)$", re.DOTALL)
_LOC = re.compile(r"<loc(\d{4})>")
_SPECIAL = re.compile(r"<eos>|<pad>|<bos>")


def parse_detections(output: str, width: int, height: int, method: str = "paligemma") -> list[Region]:
    """Regions of a ``detect`` output; an empty output is none, a malformed one a ``RegionParseError``."""
    text = _SPECIAL.sub("", output).strip()
    if not text:
        return []
    regions = []
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if match is None:
            raise RegionParseError(f"PaliGemma detection is not four <locYYYY> tokens and a label: {entry[:120]!r}")
        y0, x0, y1, x1 = (int(v) for v in _LOC.findall(match.group(1)))
        if max(y0, x0, y1, x1) >= GRID:
            raise RegionParseError(f"PaliGemma detection has a position outside 0..{GRID - 1}: {entry[:120]!r}")
        box = (x0 / GRID * width, y0 / GRID * height, x1 / GRID * width, y1 / GRID * height)
        regions.append(Region(box=clipped(box, width, height), label=match.group(3).strip(), method=method))
    return regions
