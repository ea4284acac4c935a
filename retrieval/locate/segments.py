"""Boxes that follow the picture's own edges. A heat map says where the phrase is, but its
cells are coarse (11 x 11 window cells or a ViT's patches over the whole picture), so a box
cut from it by a threshold is off by up to a cell on each side: most of a small object's
size. The picture is cut into regions of like colour (Felzenszwalb and Huttenlocher's graph
segmentation, as scikit-image implements it), each region takes the mean heat over its
pixels, and the box is that of the hottest region together with the hot regions that join
it (an object of several colours: a face, a shirt). On bench/locate.py's 600 shapes scenes
this lifts boxes with IoU >= 0.5 from 0.63 to 0.96 of queries on seen pairs (windows).

The heat over a pixel is the grid bilinearly interpolated there, so a region's mean heat is
a fixed weighting of the grid's cells: ``Segments`` keeps those weights (and the regions'
boxes, sizes and neighbours), not the pixels, and a box costs one small matrix product.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from retrieval.locate.letterbox import Letterbox

WORK_SIDE = 128  # regions are found on the picture shrunk to this long side: a few ms a picture
# Measured on bench/locate.py's scenes (IoU >= 0.5 on seen pairs, windows): SCALE 300 0.950,
# 100 0.922, 500 0.954. SIGMA smooths the picture first, against noise: the paper and
# scikit-image use 0.8 for photographs, which blurs small drawn objects into the background
# here (0.893 at SCALE 100); 0 leaves noisy photographs in specks.
SCALE = 300  # larger: fewer, larger regions
SIGMA = 0.5
MIN_SHARE = 0.005  # the smallest region, of the picture's area
MAX_SHARE = 0.5  # a region over half the picture is its background, never the box
JOIN = 0.7  # a neighbouring region joins the box where its mean heat is this hot (0..1 over the picture)
# Every picture has room for this many regions (a busier one is cut again with a larger
# smallest region) and their touching pairs (a planar map has fewer than 3 a region): fixed
# sizes, so that the regions of a search's hits are whole arrays, and kept records one
# numpy record type (prepared.py).
MAX_REGIONS = 64
MAX_PAIRS = 3 * MAX_REGIONS
EMPTY_SHARE = 2.0  # a padding region's share: over MAX_SHARE, so never part of a box


def axis_weights(pixels: int, length: float, start: float, side: int, cells: int) -> np.ndarray:
    """(pixels, cells): how much each grid cell weighs at each pixel's centre along one
    axis, for a picture ``length`` model pixels long starting at ``start`` in the square of
    ``side``, ``pixels`` pixels of the shrunk picture long; cells' values sit at their centres."""
    at = (start + (np.arange(pixels) + 0.5) * length / pixels) * cells / side - 0.5
    at = np.clip(at, 0, cells - 1)
    low = np.minimum(np.floor(at).astype(int), cells - 1)
    high = np.minimum(low + 1, cells - 1)
    out = np.zeros((pixels, cells), np.float32)
    out[np.arange(pixels), low] += 1 - (at - low)
    out[np.arange(pixels), high] += at - low
    return out


def _touching(labels: np.ndarray) -> np.ndarray:
    """(pairs, 2): the pairs of regions that touch (4-neighbours), each once."""
    pairs = np.concatenate([np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
                            np.stack([labels[:-1].ravel(), labels[1:].ravel()], 1)])
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    return np.unique(pairs, axis=0).astype(np.int32).reshape(-1, 2)


def _region_labels(image: Image.Image) -> np.ndarray:
    """Each pixel's region, on the picture shrunk to WORK_SIDE; at most MAX_REGIONS regions
    (a busy picture is cut again with twice the smallest region, until it has)."""
    from skimage.segmentation import felzenszwalb  # scikit-image loads in ~0.3 s: only when locating

    shrink = min(1.0, WORK_SIDE / max(image.width, image.height))
    size = (max(1, round(image.width * shrink)), max(1, round(image.height * shrink)))
    pixels = np.asarray(image.convert("RGB").resize(size, Image.BILINEAR) if shrink < 1 else image.convert("RGB"))
    smallest = max(1, round(MIN_SHARE * size[0] * size[1]))
    while True:
        labels = felzenszwalb(pixels, scale=SCALE, sigma=SIGMA, min_size=smallest)
        if labels.max() < MAX_REGIONS:
            return labels
        smallest *= 2


def _padded(values: np.ndarray, rows: int, fill: float) -> np.ndarray:
    out = np.full((rows,) + values.shape[1:], fill, values.dtype)
    out[:len(values)] = values
    return out


@dataclass(frozen=True)
class Segments:
    """A picture's regions, padded to MAX_REGIONS and MAX_PAIRS; or, stacked, several
    pictures' (a leading axis on each array)."""

    weights: np.ndarray  # (regions, grid cells): each region's mean weight of each cell of the grid, over its scale
    boxes: np.ndarray  # (regions, 4): each region's box, in picture pixels
    shares: np.ndarray  # (regions,): each region's share of the picture's area (EMPTY_SHARE: padding)
    touching: np.ndarray  # (pairs, 2): regions that touch (padding: region 0 with itself)
    scales: np.ndarray  # (regions,): what each row of weights is multiplied by (1; kept records' weights are int8)

    @classmethod
    def of(cls, image: Image.Image, box: Letterbox, grid_shape: tuple[int, int]) -> "Segments":
        """The regions of an upright picture, for grids of ``grid_shape`` over the square
        ``box`` fits it into."""
        labels = _region_labels(image)
        height, width = labels.shape
        rows = axis_weights(height, box.height * box.scale, box.top, box.side, grid_shape[0])
        cols = axis_weights(width, box.width * box.scale, box.left, box.side, grid_shape[1])
        count = int(labels.max()) + 1
        area = np.bincount(labels.ravel(), minlength=count)
        ys, xs = np.mgrid[0:height, 0:width]
        region_row = (labels * height + ys).ravel()
        per_row = np.stack([np.bincount(region_row, cols[xs.ravel(), j], count * height)  # a region's column
                            for j in range(grid_shape[1])], 1).reshape(count, height, -1)  # weights, row by row
        weights = np.einsum("ryj,yi->rij", per_row, rows).reshape(count, -1) / area[:, None]
        present_rows = np.bincount(region_row, minlength=count * height).reshape(count, height) > 0
        present_cols = np.bincount((labels * width + xs).ravel(), minlength=count * width).reshape(count, width) > 0
        boxes = np.stack([present_cols.argmax(1), present_rows.argmax(1), width - present_cols[:, ::-1].argmax(1),
                          height - present_rows[:, ::-1].argmax(1)], 1).astype(np.float32)
        boxes *= np.array([box.width / width, box.height / height] * 2, np.float32)
        return cls(_padded(weights.astype(np.float32), MAX_REGIONS, 0.0), _padded(boxes, MAX_REGIONS, 0.0),
                   _padded((area / labels.size).astype(np.float32), MAX_REGIONS, EMPTY_SHARE),
                   _padded(_touching(labels), MAX_PAIRS, 0), np.ones(MAX_REGIONS, np.float32))

    def folded(self, matrix: np.ndarray) -> "Segments":
        """The same regions, weighing the cells of another grid that ``matrix`` (this grid's
        cells x the other's) maps onto this one: kept smaller, and read without the map."""
        return Segments(self.weights @ matrix, self.boxes, self.shares, self.touching, self.scales)

    @classmethod
    def stacked(cls, pictures: Sequence["Segments"]) -> "Segments":
        return cls(*(np.stack([getattr(one, field.name) for one in pictures]) for field in dataclasses.fields(cls)))


def snapped_boxes(pictures: Segments, grids: np.ndarray, lows: np.ndarray,
                  highs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N, 4), found (N,)): each picture's box, in picture pixels, of its hottest
    region and the regions joining it, for similarity ``grids`` whose coolest and hottest
    values over the picture are ``lows`` and ``highs``; not found where every region is the
    background (a picture of one colour: the heat map's own box stands then). ``pictures``:
    their segments, stacked; a few array operations for them all (the hits of a search), not
    a few a picture."""
    count, regions = pictures.shares.shape
    weights = pictures.weights.astype(np.float32, copy=False)
    mean = np.matmul(weights, np.asarray(grids, np.float32).reshape(count, -1, 1))[..., 0] * pictures.scales
    mean = (mean - lows[:, None]) / np.maximum(highs - lows, 1e-9)[:, None]
    eligible = pictures.shares < MAX_SHARE
    hot = (eligible & (mean >= JOIN)).ravel()
    found = eligible.any(axis=1)
    chosen = np.zeros(count * regions, bool)  # the pictures' regions one after another
    first = np.arange(count) * regions
    chosen[first + np.argmax(np.where(eligible, mean, -np.inf), axis=1)] = found
    pairs = (pictures.touching + first[:, None, None]).reshape(-1, 2)
    sources, targets = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    while True:  # the hot regions touching the chosen ones join them, until none is left
        reached = np.zeros_like(chosen)
        reached[targets[chosen[sources]]] = True
        joining = reached & hot & ~chosen
        if not joining.any():
            break
        chosen |= joining
    # Each found picture's box: the largest value of each corner over its chosen regions
    # (x0 and y0 negated), one run of chosen regions a picture.
    flip = np.array([-1, -1, 1, 1], np.float32)
    picked = np.flatnonzero(chosen)
    boxes = np.full((count, 4), np.nan, np.float32)
    if len(picked):
        corners = pictures.boxes.reshape(-1, 4)[picked] * flip
        boxes[found] = np.maximum.reduceat(corners, np.searchsorted(picked, first[found]), axis=0) * flip
    return boxes, found
