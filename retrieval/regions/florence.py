"""Florence-2's region outputs: ``<OD>``, ``<CAPTION_TO_PHRASE_GROUNDING>`` and
``<OCR_WITH_REGION>``, as the model writes them with its special tokens kept.

Florence-2 writes a position as ``<loc_N>``, N in 0..999: the picture's width and height are
each cut into 1000 bins and N names one, so a coordinate is the bin's centre. A box is four
of them (x0 y0 x1 y1) after its label (``car<loc_52><loc_333><loc_932><loc_774>``, a label
may own several boxes); an OCR line is its text and eight of them, the corners of its
quadrilateral.
"""

from __future__ import annotations

import re

from retrieval.regions.region import Region, RegionParseError, box_of_points, clipped

BINS = 1000
_LOC = re.compile(r"<loc_(\d+)>")
_WRAPPERS = re.compile(r"</?s>|<pad>|</?od>|</?ocr>")
# A label, then one or more runs of <loc_N> tokens (spaces between them tolerated).
_LABELLED = re.compile(r"([^<]*)((?:\s*<loc_\d+>)+)")


def _clean(output: str) -> str:
    return _WRAPPERS.sub("", output).strip()


def _coordinate(value: str, size: int, what: str) -> float:
    number = int(value)
    if number >= BINS:
        raise RegionParseError(f"Florence-2 output has a position <loc_{number}> outside 0..{BINS - 1} ({what})")
    return (number + 0.5) * size / BINS


def _labelled_runs(output: str) -> list[tuple[str, list[str]]]:
    text = _clean(output)
    runs, end = [], 0
    for match in _LABELLED.finditer(text):
        if text[end:match.start()].strip():
            break  # text that owns no positions: only trailing prose may follow, checked below
        runs.append((match.group(1).strip(), _LOC.findall(match.group(2))))
        end = match.end()
    rest = text[end:].strip()
    if "<loc_" in rest or (not runs and rest):
        raise RegionParseError(f"Florence-2 output is not labels followed by <loc_N> positions: {output[:200]!r}")
    return runs


def parse_boxes(output: str, width: int, height: int, method: str = "florence2") -> list[Region]:
    """Regions of an ``<OD>`` or ``<CAPTION_TO_PHRASE_GROUNDING>`` output (no scores: Florence-2
    gives none). An empty output is no regions; anything else that is not labels with
    groups of four positions is a ``RegionParseError``."""
    regions = []
    for label, locs in _labelled_runs(output):
        if len(locs) % 4:
            raise RegionParseError(f"Florence-2 box for {label!r} has {len(locs)} positions, not a multiple of 4")
        for start in range(0, len(locs), 4):
            x0, y0, x1, y1 = locs[start:start + 4]
            box = (_coordinate(x0, width, label), _coordinate(y0, height, label),
                   _coordinate(x1, width, label), _coordinate(y1, height, label))
            regions.append(Region(box=clipped(box, width, height), label=label, method=method))
    return regions


def parse_ocr_regions(output: str, width: int, height: int, method: str = "florence2") -> list[Region]:
    """Text lines of an ``<OCR_WITH_REGION>`` output, each with its quadrilateral."""
    regions = []
    for text, locs in _labelled_runs(output):
        if len(locs) != 8:
            raise RegionParseError(f"Florence-2 OCR line {text!r} has {len(locs)} positions, not the 8 of a quadrilateral")
        points = [(_coordinate(locs[i], width, text), _coordinate(locs[i + 1], height, text)) for i in range(0, 8, 2)]
        regions.append(Region(box=clipped(box_of_points(points), width, height), label=text, method=method,
                              quad=tuple(points)))
    return regions


def plain_text(output: str) -> str:
    """The text of an ``<OCR>`` output, without the special tokens."""
    return _LOC.sub("", _clean(output)).strip()
