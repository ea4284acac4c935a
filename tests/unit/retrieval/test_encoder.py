import numpy as np
from imagefiles import noise_image


def test_text_and_image_vectors_are_unit_float32_of_the_model_size(tiny_encoder):
    texts = tiny_encoder.embed_texts(["a dog", "a cat on a mat", ""])
    images = tiny_encoder.embed_images([noise_image(i) for i in range(3)])
    for vectors in (texts, images):
        assert vectors.dtype == np.float32 and vectors.shape == (3, 64)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_the_result(tiny_model):
    from retrieval.encoders import TorchEncoder

    images = [noise_image(i) for i in range(10)]
    one = TorchEncoder(tiny_model, device="cpu", batch_size=1).embed_images(images)
    many = TorchEncoder(tiny_model, device="cpu", batch_size=4).embed_images(images)
    assert np.allclose(one, many, atol=1e-5)
    texts = [f"text number {i}" for i in range(10)]
    assert np.allclose(
        TorchEncoder(tiny_model, "cpu", 1).embed_texts(texts), TorchEncoder(tiny_model, "cpu", 7).embed_texts(texts), atol=1e-5
    )


def test_empty_inputs_give_empty_arrays(tiny_encoder):
    assert tiny_encoder.embed_texts([]).shape == (0, 64)
    assert tiny_encoder.embed_images([]).shape == (0, 64)


def test_very_long_text_is_truncated_not_an_error(tiny_encoder):
    vectors = tiny_encoder.embed_texts(["word " * 5000])
    assert vectors.shape == (1, 64)
