"""Boxes follow the picture's edges: a heat map a cell off still gives the named object's
own box, in the pixels of wide, tall and large pictures; an object of several colours gets
one box; a picture of one colour falls back to the heat map's box."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from retrieval.locate.heatmap import region_of
from retrieval.locate.letterbox import Letterbox
from retrieval.locate.segments import Segments, snapped_boxes
from retrieval.regions import iou

SIDE = 48  # the model's square input
GRID = 6


def _hot_near(box: Letterbox, x: float, y: float, off_by: int = 1) -> np.ndarray:
    """A coarse grid over the square, hottest ``off_by`` cells right of picture point (x, y)
    and falling off around it: what a heat map of coarse cells gives."""
    cell = box.side / GRID
    col = min(GRID - 1, int((box.left + x * box.scale) // cell) + off_by)
    row = int((box.top + y * box.scale) // cell)
    rows, cols = np.mgrid[0:GRID, 0:GRID]
    return np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / 2.0).astype(np.float32)


def _scene(size: tuple[int, int], target: tuple[int, int, int, int]) -> Image.Image:
    image = Image.new("RGB", size, (245, 245, 240))
    pen = ImageDraw.Draw(image)
    pen.rectangle((size[0] - size[0] // 5, size[1] // 10, size[0] - 2, size[1] // 3), fill=(40, 70, 220))  # another object
    pen.rectangle((target[0], target[1], target[2] - 1, target[3] - 1), fill=(220, 30, 30))
    return image


@pytest.mark.parametrize("size", [(300, 200), (200, 320), (64, 64), (4000, 3000)])
def test_a_box_a_cell_off_snaps_to_the_named_objects_edges(size):
    width, height = size
    target = (width // 5, height // 2, width // 5 + width // 6, height // 2 + height // 5)
    image = _scene(size, target)
    box = Letterbox.of(width, height, SIDE)
    grid = _hot_near(box, (target[0] + target[2]) / 2, (target[1] + target[3]) / 2)
    cell_box = region_of(grid, box, "a red square", "test").box
    snapped = region_of(grid, box, "a red square", "test", segments=Segments.of(image, box, grid.shape)).box
    assert iou(snapped, target) > iou(cell_box, target) + 0.2, (snapped, cell_box, target)
    tolerance = max(1.0, max(width, height) / 128) * 1.5  # a pixel and a half of the picture the regions are found on
    assert all(abs(a - b) <= tolerance for a, b in zip(snapped, target)), (snapped, target)


def test_an_object_of_two_colours_gets_one_box():
    image = Image.new("RGB", (240, 240), (245, 245, 240))
    pen = ImageDraw.Draw(image)
    pen.rectangle((80, 60, 139, 99), fill=(230, 190, 150))  # a face
    pen.rectangle((70, 100, 149, 179), fill=(30, 120, 60))  # its shirt
    box = Letterbox.of(240, 240, SIDE)
    rows, cols = np.mgrid[0:GRID, 0:GRID]
    grid = np.exp(-((rows - 2.5) ** 2 + (cols - 2.2) ** 2) / 6.0).astype(np.float32)  # hot over both
    snapped = region_of(grid, box, "a person", "test", segments=Segments.of(image, box, grid.shape)).box
    assert iou(snapped, (70, 60, 150, 180)) > 0.85, snapped


def test_a_picture_of_one_colour_keeps_the_heat_maps_box():
    image = Image.new("RGB", (120, 90), (90, 90, 90))
    box = Letterbox.of(120, 90, SIDE)
    grid = _hot_near(box, 30, 45, off_by=0)
    alone = Segments.stacked([Segments.of(image, box, grid.shape)])
    _, found = snapped_boxes(alone, grid[None], np.array([0.0]), np.array([1.0]))
    assert not found.any()
    snapped = region_of(grid, box, "thing", "test", segments=Segments.of(image, box, grid.shape)).box
    assert snapped == region_of(grid, box, "thing", "test").box
    x0, y0, x1, y1 = snapped
    assert 0 <= x0 < x1 <= 120 and 0 <= y0 < y1 <= 90
