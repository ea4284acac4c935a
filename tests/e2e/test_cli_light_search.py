"""`clipdex search` and `clipdex index` on the ONNX backend, once the model is exported:
cold processes that import neither torch nor open_clip (seconds each) and find what the
PyTorch model finds."""

import pytest
from imagefiles import write_photos
from test_cli import TINY, clipdex

pytest.importorskip("onnxruntime")

HEAVY = ("torch", "open_clip", "transformers")


def _imported(stderr: str) -> set[str]:
    """Top-level modules a run imported, from Python's import-time report."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def _scores(stdout: str) -> dict[str, float]:
    hits = [line.split(None, 1) for line in stdout.splitlines() if line and not line.startswith(" ")]
    return {path: float(score) for score, path in hits}


def test_a_search_after_export_imports_no_torch_and_finds_the_same(tmp_path):
    photos = tmp_path / "photos"
    write_photos(str(photos), 6)
    env = {"CLIPDEX_ONNX_CACHE": str(tmp_path / "onnx")}
    clipdex("index", str(photos), "--model", TINY, "--backend", "onnx", "-q", env_extra=env)  # exports the towers
    data = ["--data-dir", str(photos / ".clipdex"), "-k", "6"]
    by_torch = _scores(clipdex("search", "a photo", "--backend", "torch", *data, env_extra=env).stdout)

    for query in (["a photo"], ["--image", str(next(photos.glob("*.jpg")))]):
        light = clipdex("search", *query, "--backend", "onnx", *data, env_extra={**env, "PYTHONPROFILEIMPORTTIME": "1"})
        assert not _imported(light.stderr) & set(HEAVY), query
        assert len(_scores(light.stdout)) == 6
    light = _scores(clipdex("search", "a photo", "--backend", "onnx", *data, env_extra=env).stdout)
    assert light.keys() == by_torch.keys()
    assert max(abs(light[path] - by_torch[path]) for path in light) <= 2e-3

    again = str(tmp_path / "again")  # indexed with the export alone: decoded in threads, no torch
    run = clipdex("index", str(photos), "--model", TINY, "--backend", "onnx", "--data-dir", again, "-q",
                  env_extra={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert "indexed 6" in run.stdout and not _imported(run.stderr) & set(HEAVY)
    rebuilt = _scores(clipdex("search", "a photo", "--backend", "onnx", "--data-dir", again, "-k", "6",
                              env_extra=env).stdout)
    assert max(abs(rebuilt[path] - light[path]) for path in light) <= 1e-3

    located = clipdex("search", "a photo", "--backend", "onnx", "--locate", *data, env_extra=env).stdout
    assert located.count("(dense:") == 6  # showing where needs the PyTorch model: loaded when asked for
    by_windows = clipdex("search", "a photo", "--backend", "onnx", "--locate", "--locate-method", "windows", *data,
                         env_extra={**env, "PYTHONPROFILEIMPORTTIME": "1"})  # ... unless by windows
    assert by_windows.stdout.count("(dense:windows") == 6 and not _imported(by_windows.stderr) & set(HEAVY)


def test_the_encoder_opened_while_the_search_starts_is_the_one_it_would_build(tmp_path, monkeypatch):
    import dataclasses

    import numpy as np

    from api.cli.common import encoder_factory
    from api.cli.parser import build_parser
    from api.cli.search import start_early_encoder
    from api.settings import Settings

    photos = tmp_path / "photos"
    write_photos(str(photos), 3)
    monkeypatch.setenv("CLIPDEX_ONNX_CACHE", str(tmp_path / "onnx"))
    clipdex("index", str(photos), "--model", TINY, "--backend", "onnx", "-q")  # exports the towers
    settings, parse = Settings(), build_parser().parse_args
    search = parse(["search", "a photo", "--data-dir", str(photos / ".clipdex")])
    recipe = encoder_factory(TINY, search, settings)  # what the search resolves once its collection is open

    early = start_early_encoder(search, settings)  # the text tower opening in a thread
    encoder = early.taken_by(recipe)
    assert encoder.backend == "onnx-fp32"
    np.testing.assert_array_equal(encoder.embed_texts(["a photo"]), recipe().embed_texts(["a photo"]))  # to the bit
    assert early.taken_by(dataclasses.replace(recipe, backend="torch")) is None

    image_search = parse(["search", "--image", str(next(photos.glob("*.jpg"))), "--data-dir", str(photos / ".clipdex")])
    elsewhere = Settings(database_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")  # the model is read by SQLAlchemy
    nowhere = parse(["search", "a photo", "--data-dir", str(tmp_path / "no collection")])
    for args, given in ((image_search, settings), (search, elsewhere), (nowhere, settings),
                        (parse(["status", "--data-dir", str(photos / ".clipdex")]), settings)):
        assert start_early_encoder(args, given) is None
