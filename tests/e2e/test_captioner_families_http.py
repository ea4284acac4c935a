"""Every transformers captioner family behind a real server: a tiny random model of each,
saved offline, serves /v1/caption (a batch of uploads with a broken one among them) and
/v1/answer where the family answers."""

import httpx
import pytest

pytest.importorskip("transformers")

from live_server import Server, build_collection, jpeg_bytes  # noqa: E402
from tiny_vlms import CAPTIONERS  # noqa: E402

ANSWERING = {"blip-vqa", "git-vqa", "paligemma", "qwen2-vl", "smolvlm", "mllama"}


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return build_collection(str(tmp_path_factory.mktemp("families")))


@pytest.mark.parametrize("family", sorted(CAPTIONERS))
def test_family_through_the_api(family, collection, tmp_path):
    folder = CAPTIONERS[family](str(tmp_path / family))
    server = Server(collection, CLIPDEX_CAPTIONER=folder)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            files = [("files", (f"{i}.jpg", jpeg_bytes(i), "image/jpeg")) for i in range(3)]
            files.insert(1, ("files", ("bad.jpg", b"GIF89a not really", "image/jpeg")))
            body = client.post("/v1/caption", files=files).json()
            answer = client.post("/v1/answer", data={"question": "what is it?", "query": "a photo", "k": "2"})
    finally:
        server.stop()
    statuses = [item["status"] for item in body["captions"]]
    assert statuses == ["new", "failed", "new", "new"] and body["captioner"].startswith("transformers:")
    assert all(isinstance(item["caption"], str) for i, item in enumerate(body["captions"]) if i != 1)
    if family in ANSWERING:
        assert answer.status_code == 200 and len(answer.json()["answers"]) == 2
    else:
        message = answer.json()["error"]["message"]
        assert answer.status_code == 400 and "does not answer questions" in message
        if family == "git":  # says which GIT checkpoints do
            assert "git-base-vqav2" in message
