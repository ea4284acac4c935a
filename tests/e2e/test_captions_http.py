"""Captions and answers through a real `clipdex serve` on loopback, with a tiny GIT model
as the captioner: search hits captioned (then cached), uploads and ids captioned, a bad
upload among good ones, questions about an upload, ids and a query's top hits, bad
requests as 4xx, and a missing captioner as a clear 503."""

import httpx
import pytest

pytest.importorskip("transformers")

from live_server import Server, build_collection, jpeg_bytes  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_captioner_dir):
    root = tmp_path_factory.mktemp("captions")
    data = build_collection(str(root))
    server = Server(data, CLIPDEX_CAPTIONER=tiny_captioner_dir)
    client = httpx.Client(base_url=server.url, timeout=120)
    yield client
    client.close()
    server.stop()


def test_search_with_captions_captions_each_hit_once(served):
    plain = served.post("/v1/search/text", json={"query": "a trip", "k": 4}).json()
    assert plain["captioner"] is None and all(h["caption"] is None for h in plain["hits"])
    first = served.post("/v1/search/text", json={"query": "a trip", "k": 4, "caption": True}).json()
    assert first["captioner"].startswith("transformers:")
    assert [h["id"] for h in first["hits"]] == [h["id"] for h in plain["hits"]]  # captions change no order
    assert all(h["caption_status"] == "new" and isinstance(h["caption"], str) for h in first["hits"])
    again = served.post("/v1/search/text", json={"query": "a trip", "k": 4, "caption": True}).json()
    assert all(h["caption_status"] == "cached" for h in again["hits"])
    assert [h["caption"] for h in again["hits"]] == [h["caption"] for h in first["hits"]]
    similar = served.get(f"/v1/images/{first['hits'][0]['id']}/similar", params={"k": 2, "caption": "true"}).json()
    assert similar["hits"][0]["caption"] == first["hits"][0]["caption"]  # the same image, from the cache
    upload = served.post("/v1/search/image", files={"file": ("q.jpg", jpeg_bytes(1), "image/jpeg")},
                         data={"k": "2", "caption": "true"}).json()
    assert all(h["caption_status"] in ("new", "cached") for h in upload["hits"])


def test_caption_endpoint_takes_uploads_and_ids_and_keeps_going_past_a_bad_file(served):
    hit = served.post("/v1/search/text", json={"query": "a trip", "k": 1, "caption": True}).json()["hits"][0]
    files = [("files", ("a.jpg", jpeg_bytes(7), "image/jpeg")), ("files", ("broken.jpg", b"\xff\xd8\xff\xe0junk", "image/jpeg")),
             ("files", ("b.jpg", jpeg_bytes(8), "image/jpeg"))]
    body = served.post("/v1/caption", files=files, data={"ids": [str(hit["id"]), "999999"]}).json()
    items = body["captions"]
    assert [i.get("filename") for i in items[:3]] == ["a.jpg", "broken.jpg", "b.jpg"]
    assert items[0]["status"] == "new" and items[2]["status"] == "new" and items[0]["caption"] is not None
    assert items[1]["status"] == "failed" and "broken.jpg" in items[1]["error"]
    assert items[3] == {"id": hit["id"], "filename": None, "caption": hit["caption"], "status": "cached", "error": None}
    assert items[4]["status"] == "failed" and "no indexed image with id 999999" in items[4]["error"]


def test_answers_about_an_upload_ids_and_the_hits_of_a_query(served):
    upload = served.post("/v1/answer", files={"file": ("q.jpg", jpeg_bytes(3), "image/jpeg")},
                         data={"question": "what colour is it?"}).json()
    assert upload["question"] == "what colour is it?" and len(upload["answers"]) == 1
    assert isinstance(upload["answers"][0]["answer"], str)
    top = served.post("/v1/answer", data={"question": "where is this?", "query": "a trip", "k": "3"}).json()
    hits = served.post("/v1/search/text", json={"query": "a trip", "k": 3}).json()["hits"]
    assert [a["id"] for a in top["answers"]] == [h["id"] for h in hits]
    assert all(a["answer"] is not None and a["path"] for a in top["answers"])
    by_id = served.post("/v1/answer", data={"question": "where is this?", "ids": [str(hits[0]["id"])]}).json()
    assert by_id["answers"][0]["answer"] == top["answers"][0]["answer"]


@pytest.mark.parametrize("request_args", [
    {"url": "/v1/search/text", "json": {"query": "x", "caption": True, "caption_prompt": "p" * 301}},
    {"url": "/v1/answer", "data": {"question": "q" * 301, "query": "x"}},
    {"url": "/v1/answer", "data": {"question": "what?"}},  # about nothing
    {"url": "/v1/answer", "data": {"question": "what?", "query": "x", "ids": ["1"]}},  # about two things
    {"url": "/v1/caption", "data": {"prompt": "a photo"}},  # nothing to caption
    {"url": "/v1/caption", "data": {"ids": [str(i) for i in range(1, 40)]}},  # too many
])
def test_bad_caption_requests_are_4xx_with_a_reason(served, request_args):
    response = served.post(**request_args)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


def test_a_captioner_that_is_not_there_is_a_clear_503(tmp_path):
    server = Server(build_collection(str(tmp_path)), CLIPDEX_CAPTIONER="transformers:nobody/no-such-captioner")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            response = client.post("/v1/search/text", json={"query": "x", "caption": True})
            plain = client.post("/v1/search/text", json={"query": "x"})
    finally:
        server.stop()
    assert response.status_code == 503
    assert "captioner could not be loaded" in response.json()["error"]["message"]
    assert "hf download" in response.json()["error"]["message"]
    assert plain.status_code == 200  # search without captions is unaffected


def test_hybrid_search_through_the_api(served):
    plain = served.post("/v1/search/text", json={"query": "a trip", "k": 5}).json()["hits"]
    hybrid = served.post("/v1/search/text", json={"query": "a trip", "k": 5, "hybrid": True,
                                                  "caption_weight": 0.7}).json()["hits"]
    # No captions are indexed here: every image keeps its image score, in the same order.
    assert [h["id"] for h in hybrid] == [h["id"] for h in plain]
    assert all(abs(h["hybrid_score"] - h["score"]) < 1e-5 for h in hybrid)
    assert served.post("/v1/search/text", json={"query": "x", "hybrid": True, "caption_weight": 2}).status_code == 422
