"""Text in pictures over HTTP and on the page, from a real `clipdex serve` on loopback over a
collection whose text was read: text_in_image searches (alone and with a query), each
hit's matching lines with their boxes, /v1/images/{id}/text, stats, clear 4xx errors, the
re-index job reading new pictures, and the boxes drawn over the thumbnails in Chromium."""

import os
import shutil
import time

import httpx
import pytest
from chromium import needs_chromium
from live_server import API_KEY, Server, build_collection, build_text_collection

pytest.importorskip("rapidocr_onnxruntime")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return build_text_collection(str(tmp_path_factory.mktemp("ocr-http")))


@pytest.fixture(scope="module")
def server(collection):
    running = Server(collection[1], CLIPDEX_API_KEY=API_KEY)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def _search(client, **body):
    response = client.post("/v1/search/text", json=body)
    assert response.status_code == 200, response.text
    return response.json()["hits"]


def test_text_in_image_finds_each_picture_with_its_lines_and_boxes(client, collection):
    _, _, entries = collection
    for entry in (e for e in entries if e["queries"]):
        kind, query = next(iter(entry["queries"].items()))
        hits = _search(client, text_in_image=query, k=3)
        assert hits and hits[0]["path"].endswith(entry["file"]), (kind, query, hits)
        region = hits[0]["regions"][0]
        assert region["method"] == "rapidocr" and len(region["box"]) == 4 and region["label"]
        assert 0 <= region["box"][0] < region["box"][2] <= hits[0]["width"] and hits[0]["text_score"] >= 0.76
    assert _search(client, text_in_image="Xylophone") == []


def test_a_query_and_text_in_image_together(client, collection):
    _, _, entries = collection
    entry = next(e for e in entries if "half_code" in e["queries"])
    hits = _search(client, query="a sign", text_in_image=entry["queries"]["half_code"], k=5)
    assert hits[0]["path"].endswith(entry["file"]) and -1.0 <= hits[0]["score"] <= 1.0
    assert hits[0]["text_score"] == 1.0


def test_the_text_of_an_image_and_the_stats(client, collection):
    _, _, entries = collection
    entry = next(e for e in entries if e["lines"] and e["rotation"] == "upright")
    hit = _search(client, text_in_image=next(iter(entry["queries"].values())))[0]
    text = client.get(f"/v1/images/{hit['id']}/text").json()
    assert text["status"] == "read" and text["engine"].startswith("rapidocr") and text["lines"]
    assert text["text"] == "\n".join(line["label"] for line in text["lines"])
    assert client.get("/v1/images/999999/text").status_code == 404
    stats = client.get("/v1/stats").json()
    assert stats["ocr"]["read"] == len(entries) and stats["ocr"]["with_text"] == sum(bool(e["lines"]) for e in entries)


@pytest.mark.parametrize("body, status, words", [
    ({}, 422, "give a query, a text_in_image, or both"),
    ({"text_in_image": ""}, 422, "text_in_image"),
    ({"text_in_image": "x" * 501}, 422, "text_in_image"),
    ({"text_in_image": "...!"}, 422, "no letters or digits"),
    ({"text_in_image": "RE16", "rerank": True}, 422, "not with rerank or hybrid"),
    ({"text_in_image": "RE16", "hybrid": True}, 422, "not with rerank or hybrid"),
    ({"text_in_image": 5}, 422, "text_in_image"),
])
def test_bad_text_in_image_requests_get_4xx_with_reasons(client, body, status, words):
    response = client.post("/v1/search/text", json=body)
    assert response.status_code == status, response.text
    assert words in str(response.json()["error"]), response.text


def test_a_collection_never_read_says_how_to_read_it(tmp_path):
    server = Server(build_collection(str(tmp_path)))
    try:
        response = httpx.post(server.url + "/v1/search/text", json={"text_in_image": "EXIT"}, timeout=60)
        assert response.status_code == 409 and "clipdex index-ocr" in response.json()["error"]["message"]
        assert httpx.get(server.url + "/v1/images/1/text", timeout=60).json()["status"] == "unread"
    finally:
        server.stop()


def test_the_reindex_job_reads_the_text_of_new_pictures(client, collection):
    pictures, _, entries = collection
    entry = next(e for e in entries if e["lines"])
    shutil.copy(os.path.join(pictures, entry["file"]), os.path.join(pictures, "copy.jpg"))
    started = client.post("/v1/reindex", headers={"X-API-Key": API_KEY})
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(600):
        job = client.get(f"/v1/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["report"]["ocr"]["engine"].startswith("rapidocr") and job["report"]["ocr"]["read"] == 0  # same content
    hits = _search(client, text_in_image=next(iter(entry["queries"].values())))
    assert {os.path.basename(h["path"]) for h in hits} == {entry["file"], "copy.jpg"}


@needs_chromium
def test_the_page_draws_the_boxes_of_the_words_it_found(server, collection, browser):
    _, _, entries = collection
    entry = next(e for e in entries if "half_code" in e["queries"])
    page = browser.new_page()  # under the page's own Content-Security-Policy
    try:
        page.goto(server.url + "/")
        page.check("#text-in-image")
        page.fill("#query", entry["queries"]["half_code"].lower())
        page.click("#search-button")
        card = page.locator("#results .hit").first
        card.wait_for()
        assert entry["file"] in card.inner_text() and "“" in card.locator(".said").inner_text()
        shape = card.locator("svg.regions .region").first
        assert shape.count() == 1
        box = shape.bounding_box()
        frame = card.locator(".frame").bounding_box()
        assert box["width"] > 5 and frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        assert "in=words" in page.url
        card.click()  # the viewer: every line read in the picture, boxes drawn over it
        page.wait_for_selector("#viewer-said:has-text('“')")  # (a selector: the page's policy forbids eval)
        assert page.locator("#viewer-stage svg.regions .region").count() >= 1
    finally:
        page.close()
