import json
import logging
import os
import sys

import numpy as np
import pytest
from imagefiles import noise_image

from retrieval.encoders import TorchEncoder
from retrieval.encoders.backend import make_encoder

pytest.importorskip("onnxruntime")

TEXTS = ["a red circle", "two blue squares on the left", "a photo"]


@pytest.fixture
def onnx_cache(tmp_path):
    return tmp_path / "onnx"


def _images(n=5):
    return [noise_image(seed, size=(96 + 8 * seed, 80)) for seed in range(n)]


def _min_cosine(a, b):
    return float(np.min(np.sum(a * b, axis=1)))


def test_onnx_threads_follow_torch_so_that_processes_sharing_a_machine_do_not_oversubscribe(tiny_model, onnx_cache):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # what a Ray encoder actor does with its share of the cores
        one = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
        assert one._session("image").get_session_options().intra_op_num_threads == 1
    finally:
        torch.set_num_threads(before)
    told = make_encoder(tiny_model, "onnx", device="cpu", threads=3, onnx_cache=str(onnx_cache))
    assert told._session("image").get_session_options().intra_op_num_threads == 3


def test_fp32_export_loads_and_agrees_with_pytorch(tiny_model, tiny_encoder, onnx_cache):
    encoder = make_encoder(tiny_model, "onnx", device="cpu", batch_size=2, onnx_cache=str(onnx_cache))
    assert encoder.backend == "onnx-fp32" and encoder.dim == tiny_encoder.dim
    images = encoder.embed_images(_images())
    assert images.shape == (5, tiny_encoder.dim) and np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert _min_cosine(images, tiny_encoder.embed_images(_images())) >= 0.9999
    assert _min_cosine(encoder.embed_texts(TEXTS), tiny_encoder.embed_texts(TEXTS)) >= 0.9999
    meta = json.loads(next(onnx_cache.glob("*/meta.json")).read_text())
    assert meta["spec"] == tiny_model.spec and meta["embed_dim"] == tiny_encoder.dim

    again = make_encoder(tiny_model, "onnx", device="cpu", batch_size=4, onnx_cache=str(onnx_cache))  # from the cache, same vectors
    assert np.allclose(again.embed_images(_images()), images, atol=1e-6)


def _plain_text_output(encoder) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, the text tower's output) for TEXTS from the export itself, as before saved graphs."""
    import onnxruntime as ort

    ids = np.asarray(encoder.loaded.tokenizer(TEXTS), np.int64)
    plain = ort.InferenceSession(encoder._paths["text"], encoder._options, providers=["CPUExecutionProvider"])
    return ids, plain.run(None, {"tokens": ids})[0]


def test_the_text_tower_opens_from_its_saved_optimised_graph_and_never_a_stale_one(tiny_model, onnx_cache):
    first = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    vectors = first.embed_texts(TEXTS)
    ids, plain = _plain_text_output(first)
    assert np.array_equal(first._session("text").run(None, {"tokens": ids})[0], plain)  # the export's own numbers
    saved = list(onnx_cache.glob("*/text.optimised-*.onnx"))
    assert len(saved) == 1 and not list(onnx_cache.glob("*/.optimising-*"))
    again = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    assert np.array_equal(again.embed_texts(TEXTS), vectors)
    assert again._session("text")._model_path == str(saved[0])

    weights = saved[0].parent / "text.onnx.data"  # the tower exported anew: the saved graph is another export's
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    renewed = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    assert np.array_equal(renewed.embed_texts(TEXTS), vectors)
    now = list(onnx_cache.glob("*/text.optimised-*.onnx"))
    assert len(now) == 1 and now != saved  # the stale one replaced

    now[0].write_bytes(b"damaged")  # a damaged saved graph: the export opens instead
    assert np.array_equal(make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS),
                          vectors)


def test_a_text_tower_whose_optimised_graph_cannot_be_saved_still_opens(tiny_model, onnx_cache, monkeypatch):
    from retrieval.encoders import ort_sessions

    vectors = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS)
    for saved in onnx_cache.glob("*/text.optimised-*.onnx"):
        saved.unlink()

    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ort_sessions.os, "replace", disk_full)  # written, then the rename fails
    assert np.array_equal(make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS),
                          vectors)
    monkeypatch.setattr(ort_sessions, "SAVED_MARK", "/no-such-folder/optimised-")  # nowhere to write at all
    assert np.array_equal(make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS),
                          vectors)
    assert not list(onnx_cache.rglob("*optimis*"))  # nothing left behind


def test_int8_changes_vectors_only_a_little(tiny_model, tiny_encoder, onnx_cache, caplog):
    with caplog.at_level(logging.INFO):
        encoder = make_encoder(tiny_model, "onnx-int8", device="cpu", onnx_cache=str(onnx_cache))
    assert "quantization" not in caplog.text  # onnxruntime's advice to its own users stays out of the log
    assert encoder.backend == "onnx-int8"
    assert list(onnx_cache.glob("*/image.int8.onnx")) and not list(onnx_cache.glob("*/text.int8.onnx"))
    assert _min_cosine(encoder.embed_images(_images()), tiny_encoder.embed_images(_images())) >= 0.99
    assert _min_cosine(encoder.embed_texts(TEXTS), tiny_encoder.embed_texts(TEXTS)) >= 0.9999  # fp32 text tower


def test_int8_keeps_in_fp32_the_products_that_move_vectors_most(tiny_model, onnx_cache):
    import onnx

    from retrieval.encoders.onnx_export import _kept_fp32, exported

    paths = exported(tiny_model, "int8", str(onnx_cache))
    fp32_graph = os.path.join(os.path.dirname(paths["image"]), "image.onnx")
    kept = set(_kept_fp32(fp32_graph))
    products = [n for n in onnx.load(fp32_graph, load_external_data=False).graph.node if n.op_type == "MatMul"]
    layers = len(tiny_model.model.visual.transformer.resblocks)
    # the first block's attention: queries x keys, weights x values, the input and output projections
    graph = onnx.load(fp32_graph, load_external_data=False).graph
    assert sorted(name for name in kept if "resblocks.0/" in name) == sorted(
        node.name for node in graph.node if node.op_type in ("MatMul", "Gemm") and "resblocks.0/attn/" in node.name)
    assert any("resblocks.0/mlp/" in node.name for node in products)  # its MLP is int8
    # in every other block: those two products and the output projection after them
    assert len([name for name in kept if "/attn/" in name and "resblocks.0/" not in name]) == 3 * (layers - 1)
    assert products[-1].name in kept and len(kept) < len(products)  # the projection; the rest is int8
    quantized = onnx.load(paths["image"], load_external_data=False).graph
    dequantized = {node.output[0] for node in quantized.node if node.op_type == "DequantizeLinear"}
    for node in quantized.node:
        if node.op_type == "MatMul":
            assert any(name in dequantized for name in node.input) == (node.name not in kept), node.name


def test_an_int8_tower_of_an_older_recipe_or_older_weights_is_made_again(tiny_model, onnx_cache, tmp_path):
    from retrieval.encoders.backend import cached_encoder
    from retrieval.encoders.onnx_export import INT8_RECIPE, cache_dir_for
    from retrieval.models import load_model
    from retrieval.training import save_model_dir

    model_dir = str(tmp_path / "model")
    save_model_dir(tiny_model.model, _tiny_cfg(), model_dir)
    make_encoder(load_model(model_dir), "onnx-int8", device="cpu", onnx_cache=str(onnx_cache))
    assert cached_encoder(model_dir, "onnx-int8", "cpu", onnx_cache=str(onnx_cache)) is not None
    meta_path = os.path.join(cache_dir_for(model_dir), "meta.json")
    with open(meta_path) as handle:
        meta = json.load(handle)
    with open(meta_path, "w") as handle:  # quantized by an earlier release
        json.dump({key: value for key, value in meta.items() if key != "int8_recipe"}, handle)
    assert cached_encoder(model_dir, "onnx-int8", "cpu", onnx_cache=str(onnx_cache)) is None
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is not None  # fp32 is still good
    make_encoder(load_model(model_dir), "onnx-int8", device="cpu", onnx_cache=str(onnx_cache))
    with open(meta_path) as handle:
        assert json.load(handle)["int8_recipe"] == INT8_RECIPE

    int8_file = os.path.join(cache_dir_for(model_dir), "image.int8.onnx")
    save_model_dir(tiny_model.model, _tiny_cfg(), model_dir)  # retrained: fp32 is exported again ...
    make_encoder(load_model(model_dir), "onnx", device="cpu", onnx_cache=str(onnx_cache))
    assert not os.path.exists(int8_file)  # ... and the int8 tower quantized from the old one is gone
    assert cached_encoder(model_dir, "onnx-int8", "cpu", onnx_cache=str(onnx_cache)) is None


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_an_image_gets_the_same_vector_alone_and_in_any_batch(tiny_model, onnx_cache, backend):
    """int8 activations are scaled by ranges fixed at export (static quantization): an
    image's vector does not depend on which others share its batch."""
    import random

    encoder = make_encoder(tiny_model, backend, device="cpu", batch_size=64, onnx_cache=str(onnx_cache))
    pictures = [noise_image(seed, (96, 72), tint=seed) for seed in range(16)]
    alone = np.concatenate([encoder.embed_images([picture]) for picture in pictures])
    shuffled = list(range(16))
    random.Random(0).shuffle(shuffled)
    together = encoder.embed_images([pictures[i] for i in shuffled])
    assert _min_cosine(alone[shuffled], together) >= 0.9999
    assert _min_cosine(alone[:3], encoder.embed_images(pictures[:3])) >= 0.9999


def test_missing_onnxruntime_falls_back_to_pytorch_with_a_warning(tiny_model, onnx_cache, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING, logger="retrieval.encoders.backend"):
        encoder = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    assert type(encoder) is TorchEncoder and encoder.backend == "torch"
    assert "using PyTorch" in caplog.text


def test_failed_export_falls_back_and_leaves_no_partial_files(tiny_model, onnx_cache, monkeypatch, caplog):
    import retrieval.encoders.onnx_export as onnx_export

    def broken(loaded, paths):
        with open(paths["image"], "wb") as handle:
            handle.write(b"half a model")
        raise RuntimeError("unsupported operator\nlong detail")

    monkeypatch.setattr(onnx_export, "_export", broken)
    with caplog.at_level(logging.WARNING, logger="retrieval.encoders.backend"):
        encoder = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    assert encoder.backend == "torch" and "unsupported operator" in caplog.text and "long detail" not in caplog.text
    assert not [f for f in onnx_cache.rglob("*.onnx")]


def test_auto_uses_onnx_on_a_cpu_and_a_retrained_model_is_exported_again(tiny_model, onnx_cache, tmp_path):
    from retrieval.models import load_model
    from retrieval.training import save_model_dir

    model_dir = str(tmp_path / "model")
    save_model_dir(tiny_model.model, _tiny_cfg(), model_dir)
    first = make_encoder(load_model(model_dir), "auto", device="cpu", onnx_cache=str(onnx_cache))
    assert first.backend == "onnx-fp32" and os.path.isdir(os.path.join(model_dir, "onnx"))  # cached beside it
    before = first.embed_texts(TEXTS)

    import torch

    changed = load_model(model_dir)
    with torch.no_grad():
        changed.model.text_projection.mul_(-1)  # "retrained": every text vector flips
    save_model_dir(changed.model, _tiny_cfg(), model_dir)
    after = make_encoder(load_model(model_dir), "auto", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS)
    assert np.allclose(after, -before, atol=1e-4)


LIGHT_SCRIPT = """
import json, sys
from PIL import Image
from retrieval.encoders import EncoderRecipe
encoder = EncoderRecipe(sys.argv[1], backend=sys.argv[2], device="cpu", onnx_cache=sys.argv[3])()
texts = encoder.embed_texts(json.loads(sys.argv[4]))
images = encoder.embed_images([Image.open(p) for p in json.loads(sys.argv[5])])
print(json.dumps({"texts": texts.tolist(), "images": images.tolist(), "scale": encoder.logit_scale,
                  "torch": "torch" in sys.modules, "open_clip": "open_clip" in sys.modules}))
"""


def _embed_in_a_fresh_process(spec, backend, onnx_cache, paths):
    import subprocess

    out = subprocess.run([sys.executable, "-c", LIGHT_SCRIPT, spec, backend, str(onnx_cache), json.dumps(TEXTS),
                          json.dumps(paths)], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "auto"])
def test_a_cached_export_embeds_in_a_process_without_torch(tiny_model, onnx_cache, tmp_path, backend, monkeypatch):
    from retrieval.encoders.backend import gpu_visible

    if backend == "auto" and gpu_visible():
        pytest.skip("auto picks the GPU here")
    paths = []
    for i, image in enumerate(_images()):
        paths.append(str(tmp_path / f"{i}.png"))
        image.save(paths[-1])
    exporting = make_encoder(tiny_model, "onnx-int8" if backend == "onnx-int8" else "onnx", device="cpu",
                             onnx_cache=str(onnx_cache))
    light = _embed_in_a_fresh_process(tiny_model.spec, backend, onnx_cache, paths)
    assert not light["torch"] and not light["open_clip"]  # the towers, a numpy transform and tokenizer: nothing else
    assert _min_cosine(np.asarray(light["texts"]), exporting.embed_texts(TEXTS)) >= 0.9999
    from PIL import Image

    assert _min_cosine(np.asarray(light["images"]), exporting.embed_images([Image.open(p) for p in paths])) >= 0.9999
    assert light["scale"] == pytest.approx(exporting.logit_scale)


def test_no_cached_encoder_where_the_export_is_stale_missing_or_not_described(tiny_model, onnx_cache, tmp_path):
    from retrieval.encoders.backend import cached_encoder
    from retrieval.encoders.onnx_export import cache_dir_for
    from retrieval.models import load_model
    from retrieval.training import save_model_dir

    model_dir = str(tmp_path / "model")
    save_model_dir(tiny_model.model, _tiny_cfg(), model_dir)
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None  # nothing exported yet
    make_encoder(load_model(model_dir), "onnx", device="cpu", onnx_cache=str(onnx_cache))
    light = cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache))
    assert light is not None and light.loaded.model is None
    assert cached_encoder(model_dir, "torch", "cpu", onnx_cache=str(onnx_cache)) is None
    assert cached_encoder(model_dir, "onnx-int8", "cpu", onnx_cache=str(onnx_cache)) is None  # only fp32 exported
    assert light.full_model().model is not None  # dense localisation loads the PyTorch model when it needs it

    save_model_dir(tiny_model.model, _tiny_cfg(), model_dir)  # retrained: the export is stale
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None

    make_encoder(load_model(model_dir), "onnx", device="cpu", onnx_cache=str(onnx_cache))
    meta_path = os.path.join(cache_dir_for(model_dir), "meta.json")
    with open(meta_path) as handle:
        meta = json.load(handle)
    with open(meta_path, "w") as handle:  # a model whose transform or tokenizer is not reproduced
        json.dump({**meta, "light": None}, handle)
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None
    with open(meta_path, "w") as handle:  # cut short by a full disk: not JSON
        handle.write('{"format": 3, "light": {"tr')
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None
    assert make_encoder(load_model(model_dir), "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS).shape[0] == 3
    assert cached_encoder(model_dir, "onnx", "cpu", onnx_cache=str(onnx_cache)) is not None  # exported again


def test_an_export_made_before_descriptions_gets_one_on_next_use(tiny_model, onnx_cache):
    from retrieval.encoders.backend import cached_encoder
    from retrieval.encoders.onnx_export import cache_dir_for

    make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))
    meta_path = os.path.join(cache_dir_for(tiny_model.spec, str(onnx_cache)), "meta.json")
    with open(meta_path) as handle:
        meta = json.load(handle)
    meta.pop("light")
    with open(meta_path, "w") as handle:
        json.dump(meta, handle)
    assert cached_encoder(tiny_model.spec, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None
    make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache))  # not exported again: described
    assert cached_encoder(tiny_model.spec, "onnx", "cpu", onnx_cache=str(onnx_cache)) is not None


def test_an_export_that_lost_its_weights_file_is_made_again(tiny_model, onnx_cache):
    from retrieval.encoders.backend import cached_encoder
    from retrieval.encoders.onnx_export import cache_dir_for

    before = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS)
    os.remove(os.path.join(cache_dir_for(tiny_model.spec, str(onnx_cache)), "text.onnx.data"))
    assert cached_encoder(tiny_model.spec, "onnx", "cpu", onnx_cache=str(onnx_cache)) is None
    again = make_encoder(tiny_model, "onnx", device="cpu", onnx_cache=str(onnx_cache)).embed_texts(TEXTS)
    assert np.allclose(again, before, atol=1e-6)


def _tiny_cfg():
    from retrieval.models.spec import CONFIG_DIR

    return json.loads((CONFIG_DIR / "clipdex-tiny.json").read_text())
