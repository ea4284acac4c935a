import os

import pytest

from retrieval.datasets.fashion_mnist import CLASSES, DEFAULT_DIR, DatasetMissing, load_split

needs_data = pytest.mark.skipif(
    not os.path.isdir(DEFAULT_DIR) and not os.environ.get("CI"), reason="dataset-fashion-mnist not installed here"
)


@needs_data
def test_loads_images_captions_and_labels():
    images, captions, targets = load_split("test", limit=20)
    assert len(images) == len(captions) == len(targets) == 20
    assert images[0].size == (28, 28) and images[0].mode == "RGB"
    assert all(CLASSES[t] in c for t, c in zip(targets, captions))
    assert targets[:3] == [9, 2, 1]  # the published order of the test split: ankle boot, pullover, trouser


def test_a_missing_dataset_says_how_to_install_it(tmp_path):
    with pytest.raises(DatasetMissing, match="apt-get install dataset-fashion-mnist"):
        load_split("train", folder=str(tmp_path))
