import numpy as np
import pytest

from retrieval.zero_shot import DEFAULT_TEMPLATES, ZeroShotError, check_labels, classify, label_vectors


def test_probabilities_follow_similarity_and_sum_to_one():
    labels = np.eye(3, dtype=np.float32)
    images = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 0.98]], np.float32)
    probabilities = classify(images, labels, scale=100.0)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities.argmax(axis=1).tolist() == [0, 2]


def test_label_vectors_average_the_templates(tiny_encoder):
    vectors = label_vectors(tiny_encoder, ["cat", "dog"], ["a {}", "the {}"])
    expected = tiny_encoder.embed_texts(["a cat", "the cat"]).mean(axis=0)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert label_vectors(tiny_encoder, ["cat"]).shape == (1, 64)  # default ensemble of len(DEFAULT_TEMPLATES)
    assert len(DEFAULT_TEMPLATES) > 1


def test_the_models_temperature_is_used(tiny_encoder):
    assert tiny_encoder.logit_scale == pytest.approx(float(np.exp(tiny_encoder.model.logit_scale.item())), rel=1e-5)


@pytest.mark.parametrize(
    "labels, templates, words",
    [([], None, "at least one"), (["a", ""], None, "must not be empty"), (["a", "a"], None, "distinct"),
     (["a"], ["no slot"], "exactly one"), (["a"], ["{} and {}"], "exactly one")],
)
def test_bad_labels_and_templates_are_refused(labels, templates, words):
    with pytest.raises(ZeroShotError, match=words):
        check_labels(labels, templates)


def test_probabilities_are_the_same_on_every_backend(tiny_model, tmp_path):
    """The ONNX runtime scales by the model's own learned temperature too (not a fixed 100)."""
    from imagefiles import noise_image

    from retrieval.encoders import make_encoder

    labels = ["a red square", "a blue circle", "noise"]
    images = [noise_image(seed) for seed in range(3)]
    by_backend = {}
    for backend in ("torch", "onnx"):
        encoder = make_encoder(tiny_model, backend, device="cpu", onnx_cache=str(tmp_path))
        assert encoder.backend.startswith(backend)
        by_backend[backend] = classify(encoder.embed_images(images), label_vectors(encoder, labels), encoder.logit_scale)
    assert np.allclose(by_backend["torch"], by_backend["onnx"], atol=1e-3)
    assert float(np.exp(tiny_model.model.logit_scale.item())) != pytest.approx(100.0)
