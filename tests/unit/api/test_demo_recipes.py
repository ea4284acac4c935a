"""The demo trains its model and captioner once per recipe: a second run reuses them, and
another recipe makes both anew (a captioner belongs to the model it was trained on).
Recipes of a step each, so that this runs in seconds; the whole demo runs in
tests/e2e/test_cli_long_runs.py."""

import json
import os

from api.demo import CAPTION_DROPOUT, CAPTION_WIDTH, DONE, ensure_captioner, ensure_model

SCENES = 128  # one batch: a step an epoch


def test_a_recipe_is_trained_once_and_another_recipe_trains_both_anew(tmp_path):
    said = []
    model, captioner = str(tmp_path / "model"), str(tmp_path / "captioner")
    assert ensure_model(model, SCENES, 1, said.append)
    assert ensure_captioner(captioner, model, SCENES, 1, said.append)
    assert any("trained 1 steps" in line for line in said)
    with open(os.path.join(captioner, "captioner.json")) as handle:
        decoder = json.load(handle)["decoder"]
    assert (decoder["width"], decoder["dropout"]) == (CAPTION_WIDTH, CAPTION_DROPOUT)  # the recipe's, not the defaults
    made = os.path.getmtime(os.path.join(model, DONE))

    said.clear()
    assert not ensure_model(model, SCENES, 1, said.append)
    assert not ensure_captioner(captioner, model, SCENES, 1, said.append)
    assert said == [f"reusing the model trained earlier: {model}", f"reusing the captioner trained earlier: {captioner}"]
    assert os.path.getmtime(os.path.join(model, DONE)) == made

    said.clear()
    assert ensure_model(model, SCENES, 2, said.append, minutes=5)  # another recipe: two steps, a time cap
    assert ensure_captioner(captioner, model, SCENES, 1, said.append)  # same recipe, but a new model under it
    assert not any(line.startswith("reusing") for line in said)
    assert any("2 steps over 128 generated scenes, at most 5 min" in line for line in said)
    assert any("trained 2 steps" in line for line in said)


def test_a_run_cut_short_is_not_taken_for_a_finished_model(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "open_clip_config.json").write_text("{}")  # what an interrupted run leaves: no DONE marker
    said = []
    assert ensure_model(str(model), SCENES, 1, said.append)
    assert (model / DONE).exists() and not any(line.startswith("reusing") for line in said)
