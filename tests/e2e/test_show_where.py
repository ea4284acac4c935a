"""Showing where, as a user meets it: `clipdex locate` (boxes, JSON, drawn pictures),
`clipdex search --locate`, `clipdex detect`, `locate=true` on the HTTP searches, /v1/locate
and /v1/detect with uploads and ids, clear 4xx errors, and the page's "show where" switch
drawing a box and a heat map in Chromium; the ``windows`` method from the CLI (a CNN tower
too) and /v1/locate. With a model trained here on shapes scenes (how well it points is
tests/integration/test_locate.py's and bench/locate.py's to say)."""

import json
import os

import httpx
import pytest
from chromium import needs_chromium
from live_server import Server
from PIL import Image
from test_cli import clipdex

from retrieval.datasets import shapes

SCENES = [
    [shapes.Thing("red", "circle", "large", 0.2, 0.5), shapes.Thing("blue", "square", "small", 0.8, 0.5)],
    [shapes.Thing("green", "triangle", "large", 0.5, 0.2), shapes.Thing("yellow", "diamond", "large", 0.5, 0.8)],
    [shapes.Thing("purple", "square", "large", 0.8, 0.8), shapes.Thing("orange", "circle", "small", 0.2, 0.2)],
]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory, shapes_model):
    folder = tmp_path_factory.mktemp("locate") / "scenes"
    folder.mkdir()
    for number, things in enumerate(SCENES):
        shapes.draw(things, 64).resize((128, 128), Image.NEAREST).save(folder / f"scene_{number}.png")
    Image.new("RGB", (10, 10)).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    data = folder.parent / "data"
    clipdex("index", str(folder), "--data-dir", str(data), "--model", shapes_model, "-q")
    return folder, str(data), shapes_model


def test_locate_prints_boxes_writes_json_and_drawn_pictures(scenes, tmp_path):
    folder, _, model = scenes
    out = tmp_path / "drawn"
    result = json.loads(clipdex("locate", "a large red circle", str(folder / "scene_0.png"), str(folder / "missing.png"),
                                "--model", model, "--json", "--out", str(out), check=False).stdout)
    (item,) = result  # the missing file is reported, not located
    region = item["regions"][0]
    assert item["width"] == 128 and region["label"] == "a large red circle" and region["method"] == "dense:value"
    assert 0 <= region["box"][0] < region["box"][2] <= 128 and 0 <= region["box"][1] < region["box"][3] <= 128
    assert os.path.exists(item["drawn"]) and Image.open(item["drawn"]).size == (128, 128)
    text = clipdex("locate", "a large red circle", str(folder / "scene_0.png"), "--model", model).stdout
    assert "a large red circle:" in text
    windows, = json.loads(clipdex("locate", "a large red circle", str(folder / "scene_0.png"), "--model", model,
                                  "--method", "windows", "--json").stdout)
    x0, y0, x1, y1 = windows["regions"][0]["box"]  # the circle: centre (25.6, 64) of 128 x 128
    assert windows["regions"][0]["method"] == "dense:windows" and x0 <= 25.6 <= x1 and y0 <= 64 <= y1
    detected = json.loads(clipdex("detect", str(folder / "scene_1.png"), "--labels", "green triangle",
                                  "yellow diamond", "--model", model, "--json").stdout)
    assert {r["label"] for r in detected[0]["regions"]} <= {"green triangle", "yellow diamond"}
    assert all(0.5 <= r["score"] <= 1 for r in detected[0]["regions"])


def test_search_locate_gives_each_hit_its_box(scenes):
    _, data, _ = scenes
    hits = json.loads(clipdex("search", "a large yellow diamond", "--data-dir", data, "-k", "2", "--locate",
                              "--json").stdout)
    assert all(h["regions"] and h["regions"][0]["method"] == "dense:value" and h["heatmap"] for h in hits)
    hits = json.loads(clipdex("search", "a large yellow diamond", "--data-dir", data, "-k", "2", "--locate",
                              "--locate-method", "windows", "--json").stdout)
    assert all(h["regions"][0]["method"] == "dense:windows" and h["heatmap"] for h in hits)
    refused = clipdex("search", "--image", str(scenes[0] / "scene_0.png"), "--locate", "--data-dir", data, check=False)
    assert refused.returncode == 2 and "give a query" in refused.stderr


def test_a_cnn_model_is_refused_clearly_and_located_by_windows(scenes, tmp_path):
    pytest.importorskip("transformers")
    from tiny_transformers import save_tiny_align

    folder, _, _ = scenes
    align = save_tiny_align(str(tmp_path / "align"))
    out = clipdex("locate", "a red circle", str(folder / "scene_0.png"), "--model", f"transformers:{align}",
                  check=False)
    assert out.returncode == 2 and "needs a ViT" in out.stderr and "--method windows" in out.stderr
    shown = clipdex("locate", "a red circle", str(folder / "scene_0.png"), "--model", f"transformers:{align}",
                    "--method", "windows", "--json")  # windows need no patch tokens
    assert json.loads(shown.stdout)[0]["regions"][0]["method"] == "dense:windows"


def test_a_collection_prepared_at_index_time_shows_where_without_reading_the_files(scenes, tmp_path):
    import shutil

    source, _, model = scenes
    folder, data = tmp_path / "scenes", str(tmp_path / "data")
    shutil.copytree(source, folder)
    run = json.loads(clipdex("index", str(folder), "--data-dir", data, "--model", model, "--locate", "--json").stdout)
    assert run["located"]["prepared"] == 4 and run["failed"] == 1  # the three scenes and tiny.png; not broken.png
    (folder / "scene_0.png").unlink()  # a search meets the query with what was prepared: the file is not read
    hits = json.loads(clipdex("search", "a large red circle", "--data-dir", data, "-k", "1", "--locate", "--json").stdout)
    region = hits[0]["regions"][0]
    x0, y0, x1, y1 = region["box"]  # the circle: centre (25.6, 64), radius 25.6, of 128 x 128
    assert hits[0]["path"].endswith("scene_0.png") and region["method"] == "dense:windows"
    assert abs(x0 - 0) <= 3 and abs(y0 - 38.4) <= 3 and abs(x1 - 51.2) <= 3 and abs(y1 - 89.6) <= 3, region["box"]
    live = clipdex("search", "a large red circle", "--data-dir", data, "-k", "1", "--locate", "--locate-method", "value")
    assert "not located in image" in live.stderr  # the other method reads the file, which is gone
    shapes.draw(SCENES[1], 64).save(folder / "new.png")  # remembered: the next run prepares what is new
    again = json.loads(clipdex("index", "--data-dir", data, "--json").stdout)
    assert again["embedded"] == 1 and again["located"]["prepared"] == 1
    shapes.draw(SCENES[2], 64).save(folder / "newer.png")
    stopped = json.loads(clipdex("index", "--data-dir", data, "--no-locate", "--json").stdout)
    assert stopped["embedded"] == 1 and stopped["located"] is None
    hits = json.loads(clipdex("search", "a large yellow diamond", "--data-dir", data, "-k", "1", "--locate",
                              "--json").stdout)
    assert hits[0]["regions"][0]["method"] == "dense:value"  # not prepared any more: the configured method


@pytest.fixture(scope="module")
def server(scenes):
    running = Server(scenes[1])
    yield running
    running.stop()


def test_http_locate_on_search_and_the_locate_and_detect_endpoints(server, scenes):
    folder, _, _ = scenes
    with httpx.Client(base_url=server.url, timeout=60) as client:
        hits = client.post("/v1/search/text", json={"query": "a large green triangle", "k": 3, "locate": True}).json()
        assert all(h["regions"][0]["method"] == "dense:value" and h["heatmap"] for h in hits["hits"])
        ids = [h["id"] for h in hits["hits"]]
        with open(folder / "scene_0.png", "rb") as handle:
            answer = client.post("/v1/locate", data={"phrase": "a large red circle", "ids": ids[:2] + [99999]},
                                 files=[("files", ("scene_0.png", handle, "image/png")),
                                        ("files", ("bad.png", b"nope", "image/png"))]).json()
        by_name = {item.get("filename") or item.get("id"): item for item in answer["results"]}
        assert by_name["scene_0.png"]["regions"][0]["label"] == "a large red circle" and by_name["scene_0.png"]["heatmap"]
        assert by_name["bad.png"]["error"] and by_name[99999]["error"] == "no indexed image with id 99999"
        assert answer["method"] == "dense:value" and len(answer["results"]) == 5
        windows = client.post("/v1/locate", data={"phrase": "a large red circle", "ids": ids[:1],
                                                  "dense_method": "windows"}).json()
        assert windows["method"] == "dense:windows" and windows["results"][0]["regions"]
        detected = client.post("/v1/detect", data={"labels": ["purple square", "orange circle"], "ids": ids}).json()
        assert detected["results"] and all("regions" in r for r in detected["results"])
        similar = client.get(f"/v1/images/{ids[0]}/similar", params={"k": 2, "locate": "true"}).json()
        assert similar["hits"][0]["regions"]
        for bad, words in (({"phrase": ""}, "phrase"), ({"phrase": "x"}, "give images to look in"),
                           ({"phrase": "x", "ids": ["1"], "method": "magic"}, "method")):
            response = client.post("/v1/locate", data=bad)
            assert response.status_code == 422 and words in response.text, response.text
        assert client.post("/v1/search/text", json={"text_in_image": "x", "locate": True}).status_code == 422
        vlm = client.post("/v1/locate", data={"phrase": "x", "ids": ids[:1], "method": "vlm"})
        assert vlm.status_code in (400, 503) and vlm.json()["error"]["message"]  # BLIP (the default) cannot ground


@needs_chromium
def test_the_page_shows_where(server, browser):
    page = browser.new_page()  # under the page's own Content-Security-Policy
    held = []  # the collection's facts, held back: the switch is flipped while the page still loads
    page.route("**/v1/stats", lambda route: held.append(route))
    try:
        page.goto(server.url + "/")
        page.check("#locate")
        for _ in range(1000):  # the page asks for them as it starts: at most 20 s
            if held:
                break
            page.wait_for_timeout(20)
        assert held, "the page never asked for /v1/stats"
        held[0].continue_()
        page.unroute("**/v1/stats")
        page.wait_for_selector("#summary:has-text('images')")  # the facts are in
        assert page.is_checked("#locate")  # still on once the page has loaded
        page.fill("#query", "a large red circle")
        page.click("#search-button")
        card = page.locator("#results .hit").first
        card.wait_for()
        assert card.locator("svg.regions .region").count() == 1
        assert card.locator("svg.regions .heat rect").count() > 0
        assert "where=1" in page.url  # the switch goes with a shared link
        card.click()  # the viewer draws the same box over the large picture
        page.wait_for_selector("#viewer[open] #viewer-stage svg.regions .region")
    finally:
        page.close()
