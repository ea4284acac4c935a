"""Re-ranking text searches with a cross-encoder, through a real server and the CLI."""

import os
import subprocess
import sys

import httpx
import numpy as np
import pytest

pytest.importorskip("transformers")

from live_server import Server, build_collection  # noqa: E402
from tiny_transformers import save_tiny_vilt  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rerank")
    data = build_collection(str(root))
    reranker = save_tiny_vilt(str(root / "vilt"))
    server = Server(data, CLIPDEX_RERANKER=reranker, CLIPDEX_RERANK_DEPTH="8")
    yield data, reranker, server
    server.stop()


def test_search_with_rerank_orders_hits_by_the_cross_encoder(setup):
    from retrieval.cross_encoder import Reranker
    from retrieval.images.decode import decode_image

    data, folder, server = setup
    with httpx.Client(base_url=server.url, timeout=120) as client:
        plain = client.post("/v1/search/text", json={"query": "a photo of a trip", "k": 8}).json()["hits"]
        assert all(h["rerank_score"] is None for h in plain)
        body = client.post("/v1/search/text", json={"query": "a photo of a trip", "k": 5, "rerank": True}).json()
        page2 = client.post("/v1/search/text",
                            json={"query": "a photo of a trip", "k": 3, "offset": 5, "rerank": True}).json()
        everything = client.post("/v1/search/text", json={"query": "a photo of a trip", "k": 12, "rerank": True}).json()
        plain12 = client.post("/v1/search/text", json={"query": "a photo of a trip", "k": 12}).json()["hits"]
    # Only the first CLIPDEX_RERANK_DEPTH (8) are re-scored; the rest keep their order after them.
    assert [h["id"] for h in everything["hits"][8:]] == [h["id"] for h in plain12[8:]]
    assert all(h["rerank_score"] is None for h in everything["hits"][8:])
    hits = body["hits"] + page2["hits"]
    assert {h["id"] for h in hits} == {h["id"] for h in plain}  # the same shortlist, re-ordered
    scores = [h["rerank_score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    reranker = Reranker(folder, device="cpu")  # the server's order is the cross-encoder's own
    expected = reranker.scores("a photo of a trip", [decode_image(open(h["path"], "rb").read()).image for h in hits])
    assert np.allclose(scores, expected, atol=1e-4)


def test_rerank_without_a_configured_model_is_a_clear_400(tmp_path):
    data = build_collection(str(tmp_path))
    server = Server(data)
    try:
        response = httpx.post(server.url + "/v1/search/text", json={"query": "x", "rerank": True}, timeout=60)
    finally:
        server.stop()
    assert response.status_code == 400 and "CLIPDEX_RERANKER" in response.json()["error"]["message"]


def test_cli_search_with_rerank(setup):
    data, folder, _ = setup
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "api.cli", "search", "a photo", "-k", "3", "--data-dir", data,
                          "--rerank", "--reranker", folder], capture_output=True, text=True, env=env, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and all("(re-rank" in line for line in lines)
    missing = subprocess.run([sys.executable, "-m", "api.cli", "search", "a photo", "--data-dir", data, "--rerank"],
                             capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "--reranker MODEL" in missing.stderr
