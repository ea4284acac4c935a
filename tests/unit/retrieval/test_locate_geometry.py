"""Heat-map geometry: the whole picture fits the model's square and maps back exactly,
for wide, tall and square pictures; a hot patch becomes a box around it in picture pixels."""

import numpy as np
import pytest
from PIL import Image

from retrieval.locate.heatmap import component, peak_point, region_of, regions_of
from retrieval.locate.letterbox import Letterbox
from retrieval.locate.segments import Segments
from retrieval.regions import iou


@pytest.mark.parametrize("size", [(200, 100), (100, 300), (64, 64), (1000, 10)])
def test_the_letterbox_keeps_the_whole_picture_and_maps_back(size):
    box = Letterbox.of(*size, side=64)
    square = box.apply(Image.new("RGB", size, (255, 0, 0)))
    assert square.size == (64, 64)
    assert square.getpixel((32, 32)) == (255, 0, 0)  # the picture is in the middle
    assert box.to_picture(box.left, box.top) == (0.0, 0.0)
    assert box.to_picture(64, 64) == pytest.approx(size)
    assert box.to_picture(-5, -5) == (0.0, 0.0)  # padding maps to the picture's edge


def test_a_hot_patch_becomes_a_box_around_it_in_picture_pixels():
    box = Letterbox.of(200, 100, side=64)  # the picture fills rows 16..48 of the square
    grid = np.zeros((8, 8), np.float32)
    grid[3, 6] = 1.0  # square rows 24..32 = picture rows 25..50; columns 48..56 = picture 150..175
    region = region_of(grid, box, "thing", "test")
    cell = 200 / 8  # picture pixels per patch (the picture spans the square's width)
    assert region.label == "thing" and region.score == 1.0
    assert iou(region.box, (150.0, 25.0, 175.0, 50.0)) > 0.6
    px, py = peak_point(grid, box)
    assert 6 * cell <= px <= 7 * cell
    plain = Segments.stacked([Segments.of(Image.new("RGB", (200, 100)), box, grid.shape)])
    regions, heats = regions_of(grid[None], [box], ["thing"], "test", plain)
    assert regions[0].box == region.box  # a picture of one colour: the heat map's own box
    assert heats[0].shape == (4, 8) and heats[0].max() == 1.0 and heats[0].min() == 0.0  # only the picture's rows


def test_the_box_grows_over_the_connected_hot_part_only():
    mask = np.zeros((5, 5), bool)
    mask[1:3, 1:3] = True
    mask[4, 4] = True  # hot too, but apart
    grown = component(mask, (1, 1))
    assert grown.sum() == 4 and not grown[4, 4]
    assert component(mask, (0, 0)).sum() == 0


def test_a_flat_heat_map_still_gives_a_box():
    box = Letterbox.of(100, 50, side=64)
    region = region_of(np.zeros((8, 8), np.float32), box, "thing", "test")
    x0, y0, x1, y1 = region.box
    assert 0 <= x0 < x1 <= 100 and 0 <= y0 < y1 <= 50


def test_a_window_keeps_its_part_of_the_picture_and_paints_the_rest():
    from retrieval.locate.windows import FINE, RADIUS, centre, windowed

    pixels = np.zeros((3, 48, 48), np.float32)
    pixels[0] = np.arange(48)[None, :] + 100  # each column its own value
    fill = np.array([-1.0, -2.0, -3.0], np.float32)
    shown = windowed(pixels, fill, row=0, col=FINE - 1)
    cx, half = centre(FINE - 1, 48), RADIUS * 48
    kept = np.argwhere(shown[0] >= 100)
    assert kept[:, 0].min() == 0 and kept[:, 0].max() < half + centre(0, 48) + 1  # the top right corner only
    assert kept[:, 1].min() >= cx - half - 1 and kept[:, 1].max() == 47
    assert (shown[:, kept[:, 0], kept[:, 1]] == pixels[:, kept[:, 0], kept[:, 1]]).all()  # unchanged where kept
    painted = shown[0] < 100
    assert painted.sum() == 48 * 48 - len(kept) and (shown[:, painted] == fill[:, None]).all()


def test_the_fine_grid_holds_the_coarse_windows_and_lines_between():
    from retrieval.locate.windows import COARSE, FINE, interpolated

    coarse = np.arange(COARSE * COARSE, dtype=np.float32).reshape(COARSE, COARSE)
    fine = interpolated(coarse)
    assert fine.shape == (FINE, FINE)
    assert (fine[::2, ::2] == coarse).all()
    assert fine[1, 0] == (coarse[0, 0] + coarse[1, 0]) / 2 and fine[0, 1] == (coarse[0, 0] + coarse[0, 1]) / 2
    assert fine[1, 1] == pytest.approx(coarse[:2, :2].mean())
    assert fine.max() == coarse.max()  # nothing between windows is hotter than a window
