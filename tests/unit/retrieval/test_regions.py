"""Regions in upright pixels from each VLM's documented box format; malformed outputs are
a clear RegionParseError, never a crash; boxes drawn where they are."""

import numpy as np
import pytest
from PIL import Image

from retrieval.regions import Region, RegionParseError, clipped, draw_regions, iou, overlay_heatmap
from retrieval.regions.florence import parse_boxes, parse_ocr_regions, plain_text
from retrieval.regions.paligemma import parse_detections
from retrieval.regions.qwen import parse_grid_boxes, parse_json_boxes


def _close(box, expected, tolerance=1.0):
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected))


def test_florence_object_detection_and_grounding_in_pixels():
    # <OD> on a 1000 x 500 picture: bins are 1 px wide and 0.5 px high, positions are bin centres
    output = "</s><s>car<loc_52><loc_333><loc_932><loc_774>door handle<loc_100><loc_200><loc_150><loc_260></s>"
    regions = parse_boxes(output, 1000, 500)
    assert [r.label for r in regions] == ["car", "door handle"]
    assert _close(regions[0].box, (52.5, 166.75, 932.5, 387.25))
    assert all(r.method == "florence2" and r.score is None for r in regions)
    # a phrase may own several boxes
    two = parse_boxes("a red car<loc_0><loc_0><loc_499><loc_499><loc_500><loc_500><loc_999><loc_999>", 200, 100)
    assert [r.label for r in two] == ["a red car", "a red car"]
    assert _close(two[1].box, (100.1, 50.05, 199.9, 99.95), 0.2)
    assert parse_boxes("</s>", 100, 100) == [] and parse_boxes("", 100, 100) == []


def test_florence_ocr_lines_with_their_quadrilaterals():
    output = ("<s>INVOICE<loc_100><loc_100><loc_400><loc_100><loc_400><loc_150><loc_100><loc_150>"
              "Total 12.50<loc_100><loc_300><loc_500><loc_320><loc_490><loc_380><loc_90><loc_360></s>")
    lines = parse_ocr_regions(output, 2000, 1000)
    assert [r.label for r in lines] == ["INVOICE", "Total 12.50"]
    assert len(lines[1].quad) == 4 and _close(lines[1].box, (181, 300.5, 1001, 380.5))
    assert plain_text("<s>Hello world</s>") == "Hello world"


@pytest.mark.parametrize("output", [
    "car<loc_1><loc_2><loc_3>",  # three positions: not a box
    "car<loc_1><loc_2><loc_3><loc_1000>",  # outside the grid
    "<loc_1><loc_2>",  # positions without a label, and too few
    "just some prose and then <loc_5> stray",
])
def test_florence_malformed_outputs_are_clear_errors(output):
    with pytest.raises(RegionParseError, match="Florence-2"):
        parse_boxes(output, 100, 100)


def test_florence_ocr_line_without_eight_positions_is_an_error():
    with pytest.raises(RegionParseError, match="quadrilateral"):
        parse_ocr_regions("TEXT<loc_1><loc_2><loc_3><loc_4>", 100, 100)


def test_paligemma_detections_y_first_on_a_1024_grid():
    output = "<loc0256><loc0128><loc0768><loc0896> cat ; <loc0000><loc0000><loc0512><loc0512> red car<eos>"
    cat, car = parse_detections(output, 2048, 1024)
    assert cat.label == "cat" and _close(cat.box, (256, 256, 1792, 768))
    assert car.label == "red car" and _close(car.box, (0, 0, 1024, 512))
    segmented = parse_detections("<loc0100><loc0100><loc0200><loc0200><seg012><seg099> dog", 1024, 1024)
    assert segmented[0].label == "dog"
    assert parse_detections("<eos>", 10, 10) == []
    with pytest.raises(RegionParseError, match="PaliGemma"):
        parse_detections("<loc0100><loc0100> cat", 100, 100)
    with pytest.raises(RegionParseError, match="outside"):
        parse_detections("<loc1100><loc0100><loc0200><loc0300> cat", 100, 100)


def test_qwen2_vl_grid_boxes_and_qwen2_5_vl_json_boxes():
    output = ("<|object_ref_start|>the red car<|object_ref_end|><|box_start|>(100,200),(500,750)<|box_end|>"
              "<|box_start|>(0,0),(1000,1000)<|box_end|>")
    first, second = parse_grid_boxes(output, 640, 480)
    assert first.label == "the red car" and _close(first.box, (64, 96, 320, 360))
    assert second.label == "the red car" and _close(second.box, (0, 0, 640, 480))
    with pytest.raises(RegionParseError, match="two"):
        parse_grid_boxes("<|box_start|>(1,2)<|box_end|>", 10, 10)

    fenced = '```json\n[{"bbox_2d": [28, 56, 280, 112], "label": "sign"}]\n```'
    sign = parse_json_boxes(fenced, 1000, 500, seen_size=(560, 280))[0]
    assert sign.label == "sign" and _close(sign.box, (50, 100, 500, 200))  # scaled from what the model saw
    text = parse_json_boxes('Here: [{"bbox_2d": [0, 0, 10, 10], "text_content": "EXIT"}] done', 100, 100)
    assert text[0].label == "EXIT"
    for bad in ('[{"bbox_2d": [1, 2, 3]}]', "not json at all", '{"bbox_2d": "x"}', "[1, 2]"):
        with pytest.raises(RegionParseError, match="Qwen2.5-VL"):
            parse_json_boxes(bad, 100, 100)


def test_boxes_are_clipped_ordered_and_compared():
    assert clipped((120, -5, 10, 50), 100, 40) == (10.0, 0.0, 100.0, 40.0)
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    region = Region(box=(1, 2, 3, 4), label="x", score=0.5, method="m", quad=((1, 2), (3, 2), (3, 4), (1, 4)))
    assert Region.from_dict(region.as_dict()) == region


def test_drawn_boxes_and_heat_maps_land_where_they_are():
    picture = Image.new("RGB", (200, 100), (255, 255, 255))
    drawn = np.asarray(draw_regions(picture, [Region(box=(50, 40, 150, 90), label="thing")]))
    assert tuple(drawn[90, 100]) != (255, 255, 255)  # the bottom edge
    assert tuple(drawn[65, 100]) == (255, 255, 255)  # inside stays as it was
    heat = np.zeros((10, 20), np.float32)
    heat[:, 10:] = 1.0
    overlaid = np.asarray(overlay_heatmap(picture, heat))
    assert overlaid[50, 190, 1] < 200 and tuple(overlaid[50, 10]) == (255, 255, 255)
