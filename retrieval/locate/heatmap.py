"""From a grid of similarities to a heat map over the picture and a box: the grid is
smoothed (bilinear, ``UPSAMPLE`` times finer), scaled 0..1 over the picture's own cells;
given the picture's regions (segments.py), the box is that of the hottest ones; otherwise
the map is cut at ``THRESHOLD`` and the connected part around the hottest point is the box."""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np
from PIL import Image

from retrieval.locate.letterbox import Letterbox
from retrieval.locate.segments import Segments, snapped_boxes
from retrieval.regions import Region, clipped

UPSAMPLE = 8
THRESHOLD = 0.6  # of the way from the coolest to the hottest point (bench/locate.py: 0.5-0.8 tried)


def smooth(grid: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """A grid resampled ``factor`` times finer, bilinearly (each cell's value at its centre)."""
    height, width = grid.shape
    image = Image.fromarray(np.asarray(grid, np.float32), "F")
    return np.asarray(image.resize((width * factor, height * factor), Image.BILINEAR), np.float32)


def component(mask: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """The cells of ``mask`` connected (4-neighbours) to ``start``."""
    seen = np.zeros_like(mask, bool)
    if not mask[start]:
        return seen
    queue = deque([start])
    seen[start] = True
    height, width = mask.shape
    while queue:
        y, x = queue.popleft()
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                queue.append((ny, nx))
    return seen


def region_of(similarity: np.ndarray, box: Letterbox, label: str, method: str,
              allowed: np.ndarray | None = None, score: float | None = None,
              segments: Segments | None = None) -> Region:
    """The box of a similarity grid over the model's square input, in picture pixels:
    the picture's hottest ``segments`` where given, else the hot part around the hottest
    point; ``allowed``: a mask (same grid) that part may grow over (detection)."""
    if segments is not None and allowed is None and score is None:
        return regions_of(similarity[None], [box], [label], method, Segments.stacked([segments]))[0][0]
    peak_score = round(float(similarity.max()) if score is None else score, 4)
    return Region(box=clipped(_hot_part(similarity, box, allowed), box.width, box.height), label=label,
                  score=peak_score, method=method)


def regions_of(grids: np.ndarray, boxes: Sequence[Letterbox], labels: Sequence[str], method: str,
               segments: Segments, weighed: np.ndarray | None = None) -> tuple[list[Region], list[np.ndarray]]:
    """``region_of`` of several pictures' grids (one shape) with their ``segments``
    (stacked), and each one's heat map (the cells the picture covers, scaled 0..1), as whole
    arrays: a search's hits cost a few array operations, not a few each. ``weighed``: the
    grids the segments' weights are of, where not ``grids``."""
    count, grid_h, grid_w = grids.shape
    cells = [box.picture_cells(grid_h, grid_w) for box in boxes]
    spans = np.array([(rows.start, rows.stop, cols.start, cols.stop) for rows, cols in cells])
    rows, cols = np.arange(grid_h), np.arange(grid_w)
    inside = (((rows >= spans[:, :1]) & (rows < spans[:, 1:2]))[:, :, None]
              & ((cols >= spans[:, 2:3]) & (cols < spans[:, 3:]))[:, None, :]).reshape(count, -1)
    flat = grids.reshape(count, -1)
    lows = np.min(flat, axis=1, where=inside, initial=np.inf)
    highs = np.max(flat, axis=1, where=inside, initial=-np.inf)
    heats = (grids - lows[:, None, None]) / np.maximum(highs - lows, 1e-9)[:, None, None]
    heats[highs - lows < 1e-9] = 0  # (a picture whose grid is one value: a heat map of zeros)
    snapped, found = snapped_boxes(segments, grids if weighed is None else weighed, lows, highs)
    limits = np.array([(box.width, box.height) * 2 for box in boxes], np.float32)
    snapped = np.minimum(np.maximum(snapped, 0), limits).tolist()
    regions = []
    for grid, box, label, peak, place, ok in zip(grids, boxes, labels, np.round(highs.astype(np.float64), 4).tolist(),
                                                 snapped, found.tolist()):
        place = tuple(place) if ok else clipped(_hot_part(grid, box, None), box.width, box.height)  # (one colour)
        regions.append(Region(box=place, label=label, score=peak, method=method))
    return regions, [heat[r, c] for heat, (r, c) in zip(heats, cells)]


def _hot_part(similarity: np.ndarray, box: Letterbox, allowed: np.ndarray | None) -> tuple[float, ...]:
    """The box, in picture pixels, of the part above THRESHOLD joined to the hottest point."""
    grid_h, grid_w = similarity.shape
    rows, cols = box.picture_cells(grid_h, grid_w)
    fine = smooth(similarity)
    inside = np.zeros_like(fine, bool)
    inside[rows.start * UPSAMPLE:rows.stop * UPSAMPLE, cols.start * UPSAMPLE:cols.stop * UPSAMPLE] = True
    heat = np.where(inside, fine, -np.inf)
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    values = heat[inside]
    relative = np.where(inside, (fine - values.min()) / max(float(values.max() - values.min()), 1e-9), 0.0)
    mask = relative >= THRESHOLD
    if allowed is not None:
        mask &= np.kron(allowed, np.ones((UPSAMPLE, UPSAMPLE), bool))
    mask[peak] = True  # (a flat map: every value the same, the peak alone)
    cells = component(mask, peak)
    ys, xs = np.nonzero(cells)
    step_y, step_x = box.side / (grid_h * UPSAMPLE), box.side / (grid_w * UPSAMPLE)
    x0, y0 = box.to_picture(xs.min() * step_x, ys.min() * step_y)
    x1, y1 = box.to_picture((xs.max() + 1) * step_x, (ys.max() + 1) * step_y)
    return x0, y0, x1, y1


def peak_point(similarity: np.ndarray, box: Letterbox) -> tuple[float, float]:
    """The hottest point of the smoothed grid, in picture pixels (the pointing game's answer)."""
    grid_h, grid_w = similarity.shape
    rows, cols = box.picture_cells(grid_h, grid_w)
    fine = smooth(similarity)
    masked = np.full_like(fine, -np.inf)
    window = (slice(rows.start * UPSAMPLE, rows.stop * UPSAMPLE), slice(cols.start * UPSAMPLE, cols.stop * UPSAMPLE))
    masked[window] = fine[window]
    y, x = np.unravel_index(int(np.argmax(masked)), masked.shape)
    step = box.side / (grid_h * UPSAMPLE)
    return box.to_picture((x + 0.5) * step, (y + 0.5) * step)
