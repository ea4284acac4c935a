"""The HTTP API of a real `clipdex serve` process on loopback."""

import concurrent.futures
import os
import shutil
import time

import httpx
import pytest
from imagefiles import png_bomb_bytes, write_photos
from live_server import API_KEY, MAX_UPLOAD, Server, build_collection, jpeg_bytes


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    return str(root), build_collection(str(root))


@pytest.fixture(scope="module")
def server(collection):
    running = Server(collection[1], CLIPDEX_API_KEY=API_KEY)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def _error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["message"], body
    return body["error"]["message"]


def test_health_ready_and_stats(client):
    assert client.get("/v1/health").json() == {"status": "ok"}
    ready = client.get("/v1/ready").json()
    assert ready["ready"] is True and ready["model"] == "random:clipdex-tiny"
    stats = client.get("/v1/stats").json()
    assert stats["indexed"] == 12 and stats["failed"] == 4 and stats["vectors"] == 12
    assert stats["file_types"] == {"jpg": 8, "png": 4}  # what the page's type filter offers
    # Each failed file with its reason, as a reader sees paths (relative, without the key)
    assert len(stats["failures"]) == 4 and all(f["path"].startswith("photos/junk/") and f["error"]
                                               for f in stats["failures"])
    assert stats["last_indexed"][:4].isdigit()


def test_text_search_returns_hits_with_urls(client):
    response = client.post("/v1/search/text", json={"query": "a photo of a trip", "k": 5})
    assert response.status_code == 200
    assert "encode;dur=" in response.headers["server-timing"]
    hits = response.json()["hits"]
    assert len(hits) == 5 and [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    image = client.get(hits[0]["image_url"])
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    thumb = client.get(hits[0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_pagination_and_min_score(client):
    everything = client.post("/v1/search/text", json={"query": "x", "k": 12}).json()["hits"]
    page2 = client.post("/v1/search/text", json={"query": "x", "k": 5, "offset": 5}).json()["hits"]
    assert [h["id"] for h in page2] == [h["id"] for h in everything[5:10]]
    cut = everything[3]["score"]
    above = client.post("/v1/search/text", json={"query": "x", "k": 12, "min_score": cut}).json()["hits"]
    assert all(h["score"] >= cut for h in above) and len(above) >= 4


def test_filters_by_folder_type_and_date(client, collection):
    root = collection[0]
    home = client.post("/v1/search/text", json={
        "query": "x", "k": 50, "filters": {"folder": os.path.join(root, "photos", "home")}}).json()["hits"]
    # Without the server's key, paths are relative to the indexed folder; with it, in full.
    assert len(home) == 4 and all(h["path"].startswith("photos/home/") for h in home)
    full = client.post("/v1/search/text", headers={"X-API-Key": API_KEY}, json={
        "query": "x", "k": 50, "filters": {"folder": os.path.join(root, "photos", "home")}}).json()["hits"]
    assert {h["path"] for h in full} == {os.path.join(root, h["path"]) for h in home}
    # A reader filters by the folder as it is shown to them
    shown = client.post("/v1/search/text", json={"query": "x", "k": 50, "filters": {"folder": "photos/home"}}).json()
    assert {h["id"] for h in shown["hits"]} == {h["id"] for h in home}
    pngs = client.post("/v1/search/text", json={"query": "x", "k": 50, "filters": {"file_types": ["png"]}}).json()
    assert {h["file_type"] for h in pngs["hits"]} == {"png"} and len(pngs["hits"]) == 4
    recent = client.post("/v1/search/text", json={
        "query": "x", "k": 50, "filters": {"date_from": "2022-01-01T00:00:00"}}).json()["hits"]
    assert [os.path.basename(h["path"]) for h in recent] == ["dated_2023.jpg"]
    assert recent[0]["date"].startswith("2023-06-01")
    bad = client.post("/v1/search/text", json={
        "query": "x", "filters": {"date_from": "2024-01-01T00:00:00", "date_to": "2020-01-01T00:00:00"}})
    assert "date_from is after date_to" in _error(bad, 422)


def test_image_search_by_upload_and_by_id(client, collection):
    path = os.path.join(collection[0], "photos", "trip", "photo_0002.jpg")
    with open(path, "rb") as handle:
        upload = client.post("/v1/search/image", files={"file": ("q.jpg", handle, "image/jpeg")}, data={"k": "3"})
    assert upload.status_code == 200, upload.text
    first = upload.json()["hits"][0]
    assert first["path"] == os.path.join("photos", "trip", "photo_0002.jpg") and first["score"] > 0.999
    similar = client.get(f"/v1/images/{first['id']}/similar", params={"k": 3}).json()["hits"]
    assert similar[0]["id"] == first["id"] and similar[0]["score"] > 0.9999


def test_zero_shot_classification(client):
    ids = [h["id"] for h in client.post("/v1/search/text", json={"query": "x", "k": 3}).json()["hits"]]
    body = client.post("/v1/classify", json={"image_ids": ids, "labels": ["cat", "dog", "car"]}).json()
    assert [r["image_id"] for r in body["results"]] == ids
    for result in body["results"]:
        probabilities = [entry["probability"] for entry in result["labels"]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert probabilities == sorted(probabilities, reverse=True)
    custom = client.post("/v1/classify", json={"image_ids": ids[:1], "labels": ["a", "b"],
                                               "templates": ["a drawing of {}"]})
    assert custom.status_code == 200
    upload = client.post("/v1/classify/upload", files={"file": ("a.jpg", jpeg_bytes(3), "image/jpeg")},
                         data={"labels": ["red", "green"]})
    assert upload.status_code == 200 and len(upload.json()["results"][0]["labels"]) == 2


def test_texts_need_the_key_and_rank_for_images(client):
    texts = ["a red square", "a green circle", "a blue triangle"]
    _error(client.post("/v1/texts", json={"texts": texts}), 401)
    _error(client.post("/v1/texts", json={"texts": texts}, headers={"X-API-Key": "wrong"}), 401)
    added = client.post("/v1/texts", json={"texts": texts}, headers={"X-API-Key": API_KEY})
    assert added.status_code == 201 and len(added.json()["ids"]) == 3
    image_id = client.post("/v1/search/text", json={"query": "x", "k": 1}).json()["hits"][0]["id"]
    ranked = client.post("/v1/search/texts", json={"image_id": image_id, "k": 10}).json()["hits"]
    assert {h["text"] for h in ranked} >= set(texts)
    upload = client.post("/v1/search/texts/upload", files={"file": ("a.jpg", jpeg_bytes(9), "image/jpeg")},
                         data={"k": "2"})
    assert upload.status_code == 200 and len(upload.json()["hits"]) == 2
    removed = client.delete(f"/v1/texts/{added.json()['ids'][0]}", headers={"X-API-Key": API_KEY})
    assert removed.status_code == 204
    _error(client.delete(f"/v1/texts/{added.json()['ids'][0]}", headers={"X-API-Key": API_KEY}), 404)


@pytest.mark.parametrize(
    "request_kwargs, status, words",
    [
        ({"json": {"query": "x", "k": 100000}}, 422, "k"),
        ({"json": {"query": "x", "k": 0}}, 422, "k"),
        ({"json": {"query": "x", "offset": -1}}, 422, "offset"),
        ({"json": {"query": ""}}, 422, "query"),
        ({"json": {"k": 3}}, 422, "query"),
        ({"json": {"query": "x", "surprise": 1}}, 422, "surprise"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "JSON"),
    ],
)
def test_bad_text_search_requests_get_4xx_with_reasons(client, request_kwargs, status, words):
    response = client.post("/v1/search/text", **request_kwargs)
    _error(response, status)
    assert words.lower() in response.text.lower()


def test_bad_uploads_get_4xx_with_reasons(client):
    def upload(data, content_type="image/jpeg", name="a.jpg"):
        return client.post("/v1/search/image", files={"file": (name, data, content_type)})

    assert "not an image" in _error(upload(b"plain text, not a picture"), 422)
    assert "empty" in _error(upload(b""), 422)
    assert "content type" in _error(upload(jpeg_bytes(1), "text/plain"), 415)
    assert "too large" in _error(upload(png_bomb_bytes(), "image/png", "bomb.png"), 413)
    assert "larger than" in _error(upload(b"\xff\xd8" + b"0" * (MAX_UPLOAD + 10)), 413)
    huge = b"\xff\xd8" + b"0" * (MAX_UPLOAD + 2_000_000)
    assert "larger than" in _error(upload(huge), 413)  # refused from Content-Length, unread

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(40):
            yield b"0" * 100_000

    chunked = client.post("/v1/search/text", content=chunks(), headers={"content-type": "application/json"})
    assert "larger than" in _error(chunked, 413)
    missing = client.post("/v1/search/image", data={"k": "3"})
    assert "file" in _error(missing, 422)


def test_unknown_ids_and_labels(client):
    assert "no indexed image" in _error(client.get("/v1/images/999999/similar"), 404)
    assert "no image" in _error(client.get("/v1/images/999999"), 404)
    assert "no image" in _error(client.get("/v1/images/999999/thumbnail"), 404)
    _error(client.get("/v1/images/0/similar"), 422)
    _error(client.post("/v1/classify", json={"image_ids": [1], "labels": []}), 422)
    empty_label = client.post("/v1/classify/upload", files={"file": ("a.jpg", jpeg_bytes(1), "image/jpeg")},
                              data={"labels": ["", "cat"]})
    assert "must not be empty" in _error(empty_label, 422)
    assert "distinct" in _error(client.post("/v1/classify", json={"image_ids": [2], "labels": ["a", "a"]}), 422)
    assert "exactly one" in _error(client.post("/v1/classify", json={
        "image_ids": [2], "labels": ["a"], "templates": ["no slot"]}), 422)
    assert "no job" in _error(client.get("/v1/jobs/nope"), 404)


def test_failed_files_have_no_thumbnail_or_similar(client, collection):
    info = None
    for image_id in range(1, 20):
        candidate = client.get(f"/v1/images/{image_id}/info")
        if candidate.status_code == 200 and candidate.json()["status"] == "failed":
            info = candidate.json()
            break
    assert info is not None and info["error"]
    _error(client.get(f"/v1/images/{info['id']}/thumbnail"), 404)
    _error(client.get(f"/v1/images/{info['id']}/similar"), 404)


def test_no_path_traversal(client):
    for url in ["/web/..%2F..%2Fsettings.py", "/web/../../pyproject.toml", "/v1/images/..%2F..%2Fetc%2Fpasswd",
                "/web/%2Fetc%2Fpasswd"]:
        response = client.get(url)
        assert response.status_code in (404, 422), url
        assert "root:" not in response.text and "[project]" not in response.text


def test_cors_is_off_by_default(client):
    response = client.options("/v1/search/text", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in response.headers


def test_concurrent_text_queries_each_get_their_own_answer(client):
    queries = [f"query number {i}" for i in range(16)]
    alone = {q: [h["id"] for h in client.post("/v1/search/text", json={"query": q, "k": 5}).json()["hits"]]
             for q in queries}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        together = dict(zip(queries, pool.map(
            lambda q: [h["id"] for h in client.post("/v1/search/text", json={"query": q, "k": 5}).json()["hits"]],
            queries)))
    assert together == alone


def test_reindex_job_picks_up_new_files(client, collection):
    folder = os.path.join(collection[0], "photos", "trip")
    write_photos(folder, 2, start=700)
    _error(client.post("/v1/reindex"), 401)
    started = client.post("/v1/reindex", headers={"X-API-Key": API_KEY})
    assert started.status_code == 202
    job_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["report"]["embedded"] == 2 and job["done"] == job["total"] == 2
    new_path = os.path.join(folder, "photo_0700.jpg")
    with open(new_path, "rb") as handle:
        hits = client.post("/v1/search/image", files={"file": ("q.jpg", handle, "image/jpeg")}).json()["hits"]
    assert hits[0]["path"] == os.path.relpath(new_path, collection[0])
    assert client.get("/v1/stats").json()["indexed"] == 14


def test_reads_can_require_the_key_and_cors_can_be_enabled(collection, tmp_path):
    data = str(tmp_path / "copy")
    shutil.copytree(collection[1], data)
    locked = Server(data, CLIPDEX_API_KEY=API_KEY, CLIPDEX_REQUIRE_KEY_FOR_READS="true",
                    CLIPDEX_CORS_ORIGINS='["http://app.example"]')
    try:
        with httpx.Client(base_url=locked.url, timeout=60) as http:
            _error(http.post("/v1/search/text", json={"query": "x"}), 401)
            ok = http.post("/v1/search/text", json={"query": "x"}, headers={"X-API-Key": API_KEY})
            assert ok.status_code == 200
            assert http.get("/v1/health").status_code == 200  # liveness stays open
            preflight = http.options("/v1/search/text", headers={
                "Origin": "http://app.example", "Access-Control-Request-Method": "POST"})
            assert preflight.headers.get("access-control-allow-origin") == "http://app.example"
    finally:
        locked.stop()


def test_without_a_key_configured_writes_are_disabled(collection, tmp_path):
    data = str(tmp_path / "copy")
    shutil.copytree(collection[1], data)
    open_server = Server(data)
    try:
        with httpx.Client(base_url=open_server.url, timeout=60) as http:
            assert "CLIPDEX_API_KEY" in _error(http.post("/v1/reindex"), 403)
            assert http.post("/v1/search/text", json={"query": "x"}).status_code == 200
    finally:
        open_server.stop()


def test_missing_model_means_not_ready_and_503(collection, tmp_path):
    data = str(tmp_path / "copy")
    shutil.copytree(collection[1], data)
    broken = Server(data, CLIPDEX_MODEL="random:ViT-B-32")  # not the collection's model
    try:
        with httpx.Client(base_url=broken.url, timeout=60) as http:
            ready = http.get("/v1/ready")
            assert ready.status_code == 503 and "was built with model" in ready.json()["error"]
            assert "not loaded" in _error(http.post("/v1/search/text", json={"query": "x"}), 503)
            assert http.get("/v1/stats").status_code == 200
    finally:
        broken.stop()


def test_near_duplicate_groups(client):
    body = client.get("/v1/duplicates", params={"threshold": 0.9, "limit": 50}).json()
    assert body["threshold"] == 0.9 and body["total_groups"] == len(body["groups"])
    seen = [f["id"] for group in body["groups"] for f in group["files"]]
    assert len(seen) == len(set(seen))  # a file is in one group at most
    for group in body["groups"]:
        assert len(group["files"]) >= 2 and group["files"][0]["score"] == pytest.approx(1.0, abs=2e-3)
        assert client.get(group["files"][1]["thumbnail_url"]).status_code == 200
    assert client.get("/v1/duplicates", params={"threshold": 1.0}).json()["groups"] == []  # no identical files
    assert "threshold" in _error(client.get("/v1/duplicates", params={"threshold": 2}), 422)
    stats = client.get("/v1/stats").json()
    assert stats["index"]["type"] == "flat" and stats["index"]["vectors"] == stats["vectors"] >= 12


def test_lazy_load_and_unload_when_idle(collection):
    lazy = Server(collection[1], CLIPDEX_LAZY_LOAD="1", CLIPDEX_MODEL_IDLE_UNLOAD_S="1")
    try:
        with httpx.Client(base_url=lazy.url, timeout=60) as client:
            ready = client.get("/v1/ready").json()
            assert ready["ready"] is True and ready["loaded"] is False  # not loaded until needed
            first = client.post("/v1/search/text", json={"query": "a photo", "k": 3}).json()["hits"]
            assert len(first) == 3 and client.get("/v1/ready").json()["loaded"] is True
            deadline = time.monotonic() + 30
            while client.get("/v1/ready").json()["loaded"] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.get("/v1/ready").json()["loaded"] is False  # unloaded after a second unused
            again = client.post("/v1/search/text", json={"query": "a photo", "k": 3}).json()["hits"]
            assert [h["id"] for h in again] == [h["id"] for h in first]  # loaded again, same answers
    finally:
        lazy.stop()
