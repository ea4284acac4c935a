"""Each transformers dual-encoder class, as a tiny random model saved to a folder, through
the whole stack: load, embed, index a folder, search, zero-shot."""

import time

import numpy as np
import pytest

pytest.importorskip("transformers")

from imagefiles import noise_image, write_photos  # noqa: E402
from tiny_transformers import BUILDERS  # noqa: E402

from indexer.collection import Collection, ModelMismatch  # noqa: E402
from indexer.ingest import IndexOptions, index_folders  # noqa: E402
from retrieval.encoders import TorchEncoder  # noqa: E402
from retrieval.models import BadModelSpec, ModelNotAvailable, load_model  # noqa: E402

TEXTS = ["a red circle", "two dogs on the beach at night", "hello world", "a"]


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def hf_model(request, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp(request.param))
    BUILDERS[request.param](folder)
    return request.param, load_model(f"transformers:{folder}")


def test_embeds_both_modalities_as_unit_vectors_of_the_declared_size(hf_model):
    name, loaded = hf_model
    assert loaded.family == "transformers" and loaded.spec.startswith("transformers:/")
    one = TorchEncoder(loaded, device="cpu", batch_size=1)
    many = TorchEncoder(loaded, device="cpu", batch_size=3)
    images = [noise_image(seed, size=(40 + 10 * seed, 30)) for seed in range(4)]
    vectors = many.embed_images(images)
    texts = many.embed_texts(TEXTS)
    assert vectors.shape == (4, loaded.embed_dim) and texts.shape == (4, loaded.embed_dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert np.allclose(one.embed_images(images), vectors, atol=1e-5)  # batching changes nothing
    assert np.allclose(one.embed_texts(TEXTS), texts, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)  # different images, different vectors


def test_indexes_a_folder_and_searches_through_the_collection(hf_model, tmp_path):
    name, loaded = hf_model
    encoder = TorchEncoder(loaded, device="cpu", batch_size=4)
    photos = tmp_path / "photos"
    paths = write_photos(str(photos), 6)
    collection = Collection(str(tmp_path / "data"))
    report = index_folders(collection, [str(photos)], loaded.spec, lambda: encoder,
                           IndexOptions(num_workers=0, progress=False))
    assert report.embedded == 6 and collection.model_spec == loaded.spec
    best = collection.search(collection.vector_of_path(paths[2]), 1)[0][0]
    assert best.path == paths[2] and best.score == pytest.approx(1.0, abs=1e-3)
    hits = collection.search(encoder.embed_texts(["a photo"]), 6)[0]
    assert sorted(h.path for h in hits) == sorted(paths)
    with pytest.raises(ModelMismatch, match="was built with model"):
        collection.check_model("random:clipdex-tiny")


def test_zero_shot_uses_the_models_own_scale(hf_model):
    from retrieval.zero_shot import classify, label_vectors

    name, loaded = hf_model
    encoder = TorchEncoder(loaded, device="cpu")
    scale = encoder.logit_scale
    assert np.isfinite(scale) and scale > 0
    probabilities = classify(encoder.embed_images([noise_image(1)]), label_vectors(encoder, ["cat", "car"]), scale)
    assert probabilities.shape == (1, 2) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_missing_weights_fail_fast_with_instructions(tmp_path):
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable, match="hf download"):
        load_model("transformers:google/siglip-base-patch16-224", cache_dir=str(tmp_path / "hub"))
    assert time.monotonic() - started < 30
    with pytest.raises(BadModelSpec, match="names no model"):
        load_model("transformers:")
