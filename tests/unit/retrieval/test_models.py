import os
import time

import pytest
import torch

from retrieval.models import (
    DEFAULT_MODEL,
    BadModelSpec,
    ModelNotAvailable,
    canonical_spec,
    load_model,
    parse_spec,
)


def test_random_models_are_the_same_on_every_load(tiny_model):
    again = load_model("random:clipdex-tiny")
    for (name, a), (_, b) in zip(tiny_model.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert again.embed_dim == 64 and again.image_size == 64


@pytest.mark.parametrize(
    "spec, words",
    [
        ("", "empty"),
        ("random:NoSuchArch", "unknown architecture"),
        ("NoSuchArch/laion2b_s34b_b79k", "unknown architecture"),
        ("ViT-B-32/no_such_tag", "neither a pretrained tag"),
        ("just-a-word", "cannot read model spec"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, words):
    with pytest.raises(BadModelSpec, match=words):
        parse_spec(spec)


def test_model_not_in_cache_fails_fast_offline(tmp_path):
    started = time.monotonic()
    with pytest.raises(ModelNotAvailable) as info:
        load_model(DEFAULT_MODEL, cache_dir=str(tmp_path))
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "not in the local cache" in message and "download" in message


def test_hf_hub_spec_not_in_cache_fails_fast_offline(tmp_path):
    with pytest.raises(ModelNotAvailable, match="not in the local cache"):
        load_model("hf-hub:someone/some-clip", cache_dir=str(tmp_path))


def _write_hub_cache(cache: str, repo_id: str, files: dict) -> None:
    """Lay files out the way huggingface_hub caches a downloaded repo."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    snapshot = os.path.join(root, "snapshots", commit)
    os.makedirs(snapshot)
    os.makedirs(os.path.join(root, "refs"))
    with open(os.path.join(root, "refs", "main"), "w") as handle:
        handle.write(commit)
    for name, write in files.items():
        write(os.path.join(snapshot, name))


@pytest.mark.slow
def test_pretrained_tag_loads_offline_from_the_hub_cache(tmp_path):
    """The default spec's real loading path, with weights a test wrote into the cache."""
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = open_clip.create_model("ViT-B-32")
    state = {k: v.half().contiguous() for k, v in source.state_dict().items()}
    repo_id = open_clip.get_pretrained_cfg("ViT-B-32", "laion2b_s34b_b79k")["hf_hub"].rstrip("/")
    _write_hub_cache(
        str(tmp_path), repo_id, {"open_clip_pytorch_model.safetensors": lambda p: save_file(state, p)}
    )
    loaded = load_model(DEFAULT_MODEL, cache_dir=str(tmp_path))
    assert loaded.embed_dim == 512 and loaded.spec == DEFAULT_MODEL
    got = loaded.model.state_dict()["visual.conv1.weight"]
    assert torch.allclose(got, state["visual.conv1.weight"].float())


def test_local_model_directory_and_checkpoint_file_load(tmp_path, tiny_model):
    import json

    import open_clip

    config = open_clip.get_model_config("clipdex-tiny")
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    torch.save(tiny_model.model.state_dict(), folder / "open_clip_pytorch_model.bin")
    from_dir = load_model(str(folder))
    assert from_dir.spec == str(folder) and from_dir.embed_dim == 64
    from_file = load_model(f"clipdex-tiny/{folder / 'open_clip_pytorch_model.bin'}")
    text = ["a red square"]
    a = from_dir.model.encode_text(from_dir.tokenizer(text))
    b = tiny_model.model.encode_text(tiny_model.tokenizer(text))
    c = from_file.model.encode_text(from_file.tokenizer(text))
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(c, b, atol=1e-5)


def test_canonical_spec_makes_local_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("m")
    assert canonical_spec("m") == str(tmp_path / "m")
    assert canonical_spec("random:clipdex-tiny") == "random:clipdex-tiny"
    assert canonical_spec(DEFAULT_MODEL) == DEFAULT_MODEL
