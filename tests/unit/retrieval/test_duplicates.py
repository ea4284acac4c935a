import numpy as np
import pytest

from retrieval.index.duplicates import near_duplicate_groups
from retrieval.index.plan import IndexPlan
from retrieval.index.search_index import SearchIndex


def _with_planted_copies(tmp_path, kind):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(600, 48)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    planted = {3: [600, 601, 602], 10: [603]}  # near-copies of vectors 3 and 10
    copies = []
    for original, ids in planted.items():
        for _ in ids:
            noisy = base[original] + 0.05 * rng.normal(size=48).astype(np.float32) / np.sqrt(48)
            copies.append(noisy / np.linalg.norm(noisy))
    vectors = np.vstack([base, copies])
    index = SearchIndex.create(str(tmp_path), 48)
    ids = np.arange(len(vectors))
    index.add(ids, vectors)
    if kind != "flat":
        index.rebuild(IndexPlan(kind, nlist=8, pq_m=12), ids)
    return index, ids


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_planted_near_copies_come_out_as_groups_and_nothing_else(tmp_path, kind):
    index, ids = _with_planted_copies(tmp_path, kind)
    groups = near_duplicate_groups(index, ids, threshold=0.95, batch=100)
    assert groups == [[3, 600, 601, 602], [10, 603]]  # largest first


def test_a_group_larger_than_the_neighbour_count_still_forms(tmp_path):
    index, ids = _with_planted_copies(tmp_path, "flat")
    assert near_duplicate_groups(index, ids, threshold=0.95, neighbours=1)[0] == [3, 600, 601, 602]


def test_threshold_outside_the_cosine_range_is_refused(tmp_path):
    index, ids = _with_planted_copies(tmp_path, "flat")
    with pytest.raises(ValueError, match="between -1 and 1"):
        near_duplicate_groups(index, ids, threshold=1.5)
