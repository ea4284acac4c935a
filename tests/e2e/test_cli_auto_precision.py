"""`clipdex index` with the backend auto on a CPU: its first run measures whether int8 embeds
faster than fp32 here, and every later command that runs auto (an index run, a search by
picture) embeds with the precision recorded, so that a picture still finds itself exactly."""

import json
import os

import pytest
from imagefiles import write_photos
from test_cli import TINY, clipdex

pytest.importorskip("onnxruntime")


def _records(cache):
    return list((cache / "clipdex" / "onnx").glob("*/auto_precision.json"))


def _self_score(query, data, env, backend="auto"):
    hits = json.loads(clipdex("search", "--image", str(query), "-k", "1", "--json", "--data-dir", data,
                              "--backend", backend, env_extra=env).stdout)
    assert hits[0]["path"].endswith(query.name)
    return hits[0]["score"]


def test_the_first_index_run_measures_and_auto_follows_the_record(tmp_path):
    photos = tmp_path / "photos"
    write_photos(str(photos), 6)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "CLIPDEX_AUTO_PRECISION": "measured"}
    first = clipdex("index", str(photos), "--model", TINY, "--data-dir", str(tmp_path / "first"), env_extra=env)
    (record,) = _records(tmp_path / "cache")
    (entry,) = json.loads(record.read_text()).values()  # one machine: this one
    assert entry["precision"] in ("fp32", "int8") and f"auto embeds images in {entry['precision']}" in first.stderr

    # As on a machine where int8 measured faster: the next index run and the search embed in int8.
    entry["precision"] = "int8"
    record.write_text(json.dumps({key: entry for key in json.loads(record.read_text())}))
    data = str(tmp_path / "int8")
    again = clipdex("index", str(photos), "--model", TINY, "--data-dir", data, env_extra=env)
    assert "auto embeds images" not in again.stderr  # measured once
    queries = [photos / f"photo_000{i}.jpg" for i in range(3)]
    for query in queries:
        assert _self_score(query, data, env) == pytest.approx(1.0, abs=1e-6)  # the same int8 vector
    # An fp32 vector of a picture differs from its int8 one by a few millionths (float error: ~1e-7).
    assert min(_self_score(query, data, env, backend="onnx") for query in queries) < 1.0 - 2e-6

    # A fixed precision overrides the record, for the index run and the search alike.
    fixed = {**env, "CLIPDEX_AUTO_PRECISION": "fp32"}
    data = str(tmp_path / "fp32")
    clipdex("index", str(photos), "--model", TINY, "--data-dir", data, "-q", env_extra=fixed)
    assert _self_score(queries[0], data, fixed) == pytest.approx(1.0, abs=1e-6)
    assert _self_score(queries[0], data, env, backend="onnx") == pytest.approx(1.0, abs=1e-6)
    assert os.path.getsize(record) > 0 and len(_records(tmp_path / "cache")) == 1
