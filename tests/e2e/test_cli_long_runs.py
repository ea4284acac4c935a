"""The `clipdex` commands that run for a minute or more, in real subprocesses: a SIGKILL
in the middle of indexing, and training plus the demo. In a file of their own so that
parallel test workers (a file each) share the long runs out."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from imagefiles import write_bad_files, write_photos
from test_cli import clipdex

from retrieval.datasets.shapes import COLOURS


def _counts(db_path):
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("select status, count(*) from files group by status").fetchall())


@pytest.mark.slow
def test_kill_minus_9_mid_index_then_rerun_completes(tmp_path):
    """A real SIGKILL while indexing; the next run finishes and re-embeds nothing committed."""
    folder = tmp_path / "big"
    write_photos(str(folder), 80, size=(320, 240))  # ViT-B-32, 4 a batch: seconds to spare for the kill
    write_bad_files(str(folder))
    data = tmp_path / "data"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CLIPDEX_CHECKPOINT_SECONDS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "index", str(folder), "--data-dir", str(data),
         "--model", "random:ViT-B-32", "--batch-size", "4", "--workers", "1", "-q"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    db = data / "clipdex.sqlite3"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _counts(db).get("ok", 0) >= 12:
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("select path, indexed_at from files where status='ok'").fetchall())
    assert 12 <= len(before) < 80

    out = clipdex("index", str(folder), "--data-dir", str(data), "--json", "-q").stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["embedded"] == 80 - len(before)
    status = json.loads(clipdex("status", "--data-dir", str(data), "--json").stdout)
    assert status["indexed"] == 80 == status["vectors"] and status["failed"] == 4 and status["pending"] == 0
    with sqlite3.connect(db) as conn:
        after = dict(conn.execute("select path, indexed_at from files where status='ok'").fetchall())
    assert all(after[p] == t for p, t in before.items())


@pytest.mark.slow
def test_generate_train_index_search_and_the_demo(tmp_path):
    scenes = tmp_path / "scenes"
    assert "wrote 300 train scenes" in clipdex("datasets", "shapes", str(scenes), "--count", "300",
                                               "--colourless", "0.25").stdout
    written = [p.read_text() for p in scenes.glob("*.txt")]
    colourless = [c for c in written if not any(colour in c.split() for colour in COLOURS)]
    assert len(written) == 300 and 40 <= len(colourless) <= 110  # about a quarter in grey, no colour words
    assert clipdex("datasets", "shapes", str(tmp_path / "x"), "--colourless", "2", check=False).returncode == 2
    model = tmp_path / "model"
    out = clipdex("train", str(scenes), "--arch", "clipdex-tiny", "--out", str(model), "--epochs", "2",
                  "--batch-size", "64", "--eval", "shapes:50:test", "-q").stdout
    assert "epoch   2" in out and f"--model {model}" in out
    clipdex("index", str(scenes), "--model", str(model), "--data-dir", str(tmp_path / "d"), "-q")
    status = json.loads(clipdex("status", "--data-dir", str(tmp_path / "d"), "--json").stdout)
    assert status["indexed"] == 300 and status["model"] == str(model)
    bad = clipdex("train", str(tmp_path / "nowhere"), "--arch", "clipdex-tiny", "--out", str(tmp_path / "m"),
                  check=False)
    assert bad.returncode == 2 and "no such file or folder" in bad.stderr

    recipe = ("--scenes", "1024", "--epochs", "1", "--caption-epochs", "2")  # a fixed number of steps
    first = clipdex("demo", "--work", str(tmp_path / "demo"), *recipe)
    demo = first.stdout
    assert "training clipdex-small from scratch: 8 steps" in demo and "trained 8 steps" in demo
    assert "trained 16 steps" in demo  # the captioner
    assert "indexed 300 new images" in demo and 'search "a large red circle"' in demo
    assert "zero-shot" in demo and "exact caption ranked first for" in demo
    assert demo.count("captioned: \"") == 12 and "captions named every object of" in demo
    assert "No pretrained weights" not in first.stderr  # random initialisation is the point here: no warning
    # Again, as JSON: the model and captioner of this recipe are reused, nothing is indexed anew
    # (tests/unit/api/test_demo_recipes.py: another recipe trains both anew)
    summary = json.loads(clipdex("demo", "--work", str(tmp_path / "demo"), *recipe, "--json").stdout)
    assert summary["trained"] == [] and summary["indexed_new"] == 0
    assert summary["queries"] == 4 and summary["captions_shown"] == 12 and 0 <= summary["exact_top1"] <= 4
    assert summary["seconds"] > 0
