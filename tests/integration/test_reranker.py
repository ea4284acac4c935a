"""Cross-encoder re-rankers (ViLT, BLIP ITM) as tiny random models saved by the test."""

import numpy as np
import pytest

pytest.importorskip("transformers")

from imagefiles import noise_image  # noqa: E402
from tiny_transformers import RERANKERS, save_tiny_clip  # noqa: E402

from retrieval.cross_encoder import Reranker  # noqa: E402
from retrieval.models import BadModelSpec  # noqa: E402


@pytest.fixture(scope="module", params=sorted(RERANKERS))
def reranker(request, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp(request.param))
    RERANKERS[request.param](folder)
    return Reranker(folder, device="cpu", batch_size=3)


def test_scores_every_pair_in_batches_and_orders_hits_by_them(reranker):
    images = [noise_image(seed, size=(50 + 7 * seed, 40)) for seed in range(7)]
    scores = reranker.scores("a red circle on the left", images)
    assert scores.shape == (7,) and np.all(np.isfinite(scores))
    one_by_one = np.concatenate([reranker.scores("a red circle on the left", [image]) for image in images])
    assert np.allclose(scores, one_by_one, atol=1e-4)  # batching does not change a pair's score
    hits = list(range(7))
    ranked = reranker.rerank("a red circle on the left", hits, images)
    assert sorted(hit for _, hit in ranked) == hits
    assert [s for s, _ in ranked] == sorted((s for s, _ in ranked), reverse=True)  # best first
    assert np.allclose([s for s, _ in ranked], scores[[hit for _, hit in ranked]], atol=1e-4)  # its own scores


def test_a_dual_encoder_is_not_taken_for_a_reranker(tmp_path):
    folder = save_tiny_clip(str(tmp_path / "clip"))
    with pytest.raises(BadModelSpec, match="re-rankers are ViLT or BLIP"):
        Reranker(folder, device="cpu")
