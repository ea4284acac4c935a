"""The backend auto's precision on ONNX Runtime: measured once per model and machine, kept
beside the export, then followed by every encoder that runs auto there."""

import json
import os
import shutil

import numpy as np
import pytest
from imagefiles import noise_image

from retrieval.encoders import precision_choice
from retrieval.encoders.backend import cached_encoder, make_encoder, measure_auto_precision
from retrieval.encoders.onnx_export import cache_dir_for
from retrieval.encoders.precision_choice import CHOICE_FILE, MARGIN, MIN_COSINE, choose, recorded

pytest.importorskip("onnxruntime")

PICTURES = [noise_image(seed, size=(90, 70)) for seed in range(4)]


@pytest.fixture(scope="module")
def measured_once(tiny_model, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("measured") / "onnx")
    return cache, measure_auto_precision(tiny_model.spec, "cpu", onnx_cache=cache, load=lambda: tiny_model)


@pytest.fixture
def measured(measured_once, tiny_model, tmp_path):
    """(an ONNX cache of this test's own, its export folder, this machine's measurement) for
    the tiny model: a copy of the one measured for the module (exporting and measuring once)."""
    cache = str(tmp_path / "onnx")
    shutil.copytree(measured_once[0], cache)
    return cache, cache_dir_for(tiny_model.spec, cache), measured_once[1]


def _set_precision(folder: str, precision: str) -> None:
    """What a machine where ``precision`` measured faster would have recorded."""
    path = os.path.join(folder, CHOICE_FILE)
    with open(path) as handle:
        choices = json.load(handle)
    for entry in choices.values():
        entry["precision"] = precision
    with open(path, "w") as handle:
        json.dump(choices, handle)


def test_int8_is_chosen_only_where_clearly_faster_and_its_vectors_stay_close():
    assert choose(fp32_seconds=2.0, int8_seconds=1.0, min_cosine=0.9999) == "int8"
    assert choose(fp32_seconds=MARGIN * 0.99, int8_seconds=1.0, min_cosine=0.9999) == "fp32"  # not enough faster
    assert choose(fp32_seconds=1.0, int8_seconds=2.0, min_cosine=0.9999) == "fp32"  # slower (a CPU without int8 kernels)
    assert choose(fp32_seconds=2.0, int8_seconds=1.0, min_cosine=MIN_COSINE - 0.01) == "fp32"  # moved the vectors


def test_the_measurement_is_recorded_for_this_machine_and_followed(measured, tiny_model):
    cache, folder, entry = measured
    assert entry["precision"] == choose(1 / entry["images_per_s"]["fp32"], 1 / entry["images_per_s"]["int8"],
                                        entry["min_cosine"])
    assert entry["images_per_s"]["fp32"] > 0 and entry["images_per_s"]["int8"] > 0
    assert entry["machine"]["cores"] == os.cpu_count() and recorded(folder) == entry
    made = make_encoder(tiny_model, "auto", device="cpu", onnx_cache=cache)
    light = cached_encoder(tiny_model.spec, "auto", "cpu", onnx_cache=cache)
    assert made.backend == light.backend == f"onnx-{entry['precision']}"

    before = open(os.path.join(folder, CHOICE_FILE), "rb").read()
    again = measure_auto_precision(tiny_model.spec, "cpu", onnx_cache=cache, load=lambda: tiny_model)
    assert again == entry and open(os.path.join(folder, CHOICE_FILE), "rb").read() == before  # not measured twice


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_auto_embeds_images_as_the_explicit_backend_of_the_recorded_precision(measured, tiny_model, precision):
    cache, folder, _ = measured
    _set_precision(folder, precision)
    explicit = make_encoder(tiny_model, "onnx-int8" if precision == "int8" else "onnx", device="cpu", onnx_cache=cache)
    auto = cached_encoder(tiny_model.spec, "auto", "cpu", onnx_cache=cache)
    np.testing.assert_array_equal(auto.embed_images(PICTURES), explicit.embed_images(PICTURES))
    # A fixed precision is followed whatever was measured.
    fixed = "fp32" if precision == "int8" else "int8"
    assert make_encoder(tiny_model, "auto", "cpu", onnx_cache=cache, auto_precision=fixed).backend == f"onnx-{fixed}"


def test_another_machines_measurement_is_kept_but_not_used_here(measured, tiny_model, monkeypatch):
    cache, folder, entry = measured
    _set_precision(folder, "int8")
    real = precision_choice.machine()
    monkeypatch.setattr(precision_choice, "machine", lambda: {**real, "cpu": "another CPU", "cores": 64})
    assert recorded(folder) is None  # measured on this machine only
    assert make_encoder(tiny_model, "auto", "cpu", onnx_cache=cache).backend == "onnx-fp32"  # nothing measured: fp32
    there = measure_auto_precision(tiny_model.spec, "cpu", onnx_cache=cache, load=lambda: tiny_model)
    assert there["machine"]["cpu"] == "another CPU"
    with open(os.path.join(folder, CHOICE_FILE)) as handle:
        assert len(json.load(handle)) == 2  # each machine's own entry
    monkeypatch.undo()
    assert recorded(folder)["precision"] == "int8"


def test_a_measurement_of_an_older_export_is_not_used(measured, tiny_model):
    cache, folder, _ = measured
    _set_precision(folder, "int8")
    path = os.path.join(folder, CHOICE_FILE)
    with open(path) as handle:
        choices = json.load(handle)
    for entry in choices.values():
        entry["export"]["weights"] = "the weights the model had before"
    with open(path, "w") as handle:
        json.dump(choices, handle)
    assert recorded(folder) is None
    assert cached_encoder(tiny_model.spec, "auto", "cpu", onnx_cache=cache).backend == "onnx-fp32"


def test_a_damaged_record_reads_as_nothing_measured(measured, tiny_model):
    cache, folder, _ = measured
    with open(os.path.join(folder, CHOICE_FILE), "w") as handle:
        handle.write('{"half a rec')
    assert recorded(folder) is None
    assert make_encoder(tiny_model, "auto", "cpu", onnx_cache=cache).backend == "onnx-fp32"
    assert measure_auto_precision(tiny_model.spec, "cpu", onnx_cache=cache, load=lambda: tiny_model) == recorded(folder)


def test_an_unknown_fixed_precision_is_refused(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="auto_precision"):
        make_encoder(tiny_model, "auto", "cpu", onnx_cache=str(tmp_path), auto_precision="fp16")
