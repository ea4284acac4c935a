"""The `clipdex` command as a user runs it, in real subprocesses."""

import json
import os
import subprocess
import sys
import time

import pytest
from imagefiles import write_bad_files, write_photos

TINY = "random:clipdex-tiny"


def clipdex(*args, env_extra=None, check=True, timeout=300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"clipdex {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "Pictures"
    write_photos(str(photos), 12)
    write_bad_files(str(photos / "junk"))
    return photos


def test_index_search_status_and_reindex(folder, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = clipdex("index", str(folder), "--model", TINY, "-q", env_extra=env)
    assert "indexed 12" in out.stdout and "4 failed" in out.stdout
    assert (folder / ".clipdex" / "clipdex.sqlite3").exists()

    hits = clipdex("search", "a photo", "-k", "5", "--data-dir", str(folder / ".clipdex"), env_extra=env).stdout
    lines = hits.strip().splitlines()
    assert len(lines) == 5 and all(line.split()[1].startswith(str(folder)) for line in lines)
    scores = [float(line.split()[0]) for line in lines]
    assert scores == sorted(scores, reverse=True)

    # image->image: the image itself comes first; the collection is found from the last index run
    query = folder / "photo_0003.jpg"
    first = clipdex("search", "--image", str(query), "-k", "3", env_extra=env).stdout.splitlines()[0]
    assert first.split()[1] == str(query) and float(first.split()[0]) > 0.999

    status = json.loads(clipdex("status", "--data-dir", str(folder / ".clipdex"), "--json").stdout)
    assert status["indexed"] == 12 and status["failed"] == 4 and status["pending"] == 0
    assert status["model"] == TINY and status["vectors"] == 12
    assert {os.path.basename(f["path"]) for f in status["failures"]} == {"zero.jpg", "truncated.jpg", "text.jpg", "bomb.png"}

    again = clipdex("index", str(folder), "-q", env_extra=env).stdout
    assert "up to date" in again


def test_clear_errors_for_bad_paths_and_requests(folder, tmp_path):
    data = str(tmp_path / "d")
    missing = clipdex("index", str(tmp_path / "nope"), "--data-dir", data, "--model", TINY, check=False)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    bad_model = clipdex("index", str(folder), "--data-dir", data, "--model", "random:Nope", check=False)
    assert bad_model.returncode == 2 and "unknown architecture" in bad_model.stderr
    no_collection = clipdex("search", "x", "--data-dir", str(tmp_path / "empty"), check=False)
    assert no_collection.returncode == 2 and "no collection" in no_collection.stderr

    clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "-q")
    other = clipdex("search", "x", "--data-dir", data, "--model", "random:ViT-B-32", check=False)
    assert other.returncode == 2 and "was built with model 'random:clipdex-tiny'" in other.stderr
    not_image = clipdex("search", "--image", str(folder / "junk" / "text.jpg"), "--data-dir", data, check=False)
    assert not_image.returncode == 2 and "not an image" in not_image.stderr
    bad_k = clipdex("search", "x", "-k", "0", "--data-dir", data, check=False)
    assert bad_k.returncode == 2 and "-k" in bad_k.stderr


def test_missing_pretrained_model_fails_fast_with_instructions(folder, tmp_path):
    started = time.monotonic()
    proc = clipdex(
        "index", str(folder), "--data-dir", str(tmp_path / "d"), check=False,
        env_extra={"CLIPDEX_MODEL_CACHE_DIR": str(tmp_path / "hub")},
    )
    assert proc.returncode == 2 and "not in the local cache" in proc.stderr
    assert time.monotonic() - started < 60  # seconds of Python start-up, not a minute of retries


def test_classify_and_index_texts_from_the_command_line(folder, tmp_path):
    data = str(tmp_path / "d")
    clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "-q")
    out = json.loads(clipdex(
        "classify", str(folder / "photo_0001.jpg"), str(folder / "photo_0002.jpg"),
        "--labels", "cat", "dog", "car", "--data-dir", data, "--json").stdout)
    assert [os.path.basename(r["path"]) for r in out] == ["photo_0001.jpg", "photo_0002.jpg"]
    for result in out:
        assert {item["label"] for item in result["labels"]} == {"cat", "dog", "car"}
        assert abs(sum(item["probability"] for item in result["labels"]) - 1) < 1e-4
    text = clipdex("classify", str(folder / "photo_0001.jpg"), "--labels", "cat", "dog", "--top", "1",
                   "--data-dir", data).stdout
    assert text.count(":") == 1 and ("cat" in text or "dog" in text)
    bad = clipdex("classify", str(folder / "junk" / "text.jpg"), "--labels", "a", "b", "--data-dir", data, check=False)
    assert bad.returncode == 2 and "not an image" in bad.stderr
    empty = clipdex("classify", str(folder / "photo_0001.jpg"), "--labels", "a", "a", "--data-dir", data, check=False)
    assert empty.returncode == 2 and "distinct" in empty.stderr

    texts = tmp_path / "captions.jsonl"
    texts.write_text('{"text": "a red photo"}\n{"text": "a green photo"}\n')
    assert "added 2 texts" in clipdex("index-texts", str(texts), "--data-dir", data).stdout
    broken = tmp_path / "broken.jsonl"
    broken.write_text("nope\n")
    failed = clipdex("index-texts", str(broken), "--data-dir", data, check=False)
    assert failed.returncode == 2 and "broken.jsonl:1" in failed.stderr
    with open(os.path.join(data, "texts.faiss"), "r+b") as handle:
        handle.truncate(100)  # damaged: the texts are still in the database
    assert "embedded 2 texts again" in clipdex("index-texts", "--rebuild", "--data-dir", data).stdout
    neither = clipdex("index-texts", "--data-dir", data, check=False)
    assert neither.returncode == 2 and "--rebuild" in neither.stderr


def test_index_types_rebuild_and_duplicates_from_the_command_line(tmp_path):
    import shutil

    from PIL import Image

    folder = tmp_path / "dups"
    write_photos(str(folder), 3)  # three different pictures
    shutil.copy(folder / "photo_0000.jpg", folder / "copy of photo.jpg")
    Image.open(folder / "photo_0000.jpg").save(folder / "photo_0000 as png.png")  # same pixels, other format
    data = str(tmp_path / "d")
    clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "--index-type", "ivf", "-q")
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["index"]["type"] == "ivf" and status["vectors"] == 5

    groups = json.loads(clipdex("duplicates", "--threshold", "0.99", "--data-dir", data, "--json").stdout)
    assert [sorted(os.path.basename(f["path"]) for f in g) for g in groups] == [
        ["copy of photo.jpg", "photo_0000 as png.png", "photo_0000.jpg"]
    ]

    out = clipdex("rebuild-index", "--data-dir", data, "--index-type", "flat", "--shards", "2").stdout
    assert "rebuilt a flat index" in out and "2 shard(s)" in out
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["index"]["type"] == "flat" and status["index"]["shards"] == 2 and status["vectors"] == 5
    query = folder / "photo_0002.jpg"  # still searchable, and the choice is remembered by the next run
    first = clipdex("search", "--image", str(query), "-k", "1", "--data-dir", data, "--nprobe", "4").stdout
    assert first.split()[1] == str(query)
    write_photos(str(folder), 1, start=7)
    clipdex("index", str(folder), "--data-dir", data, "-q")
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["index"] == {"type": "flat", "lists": 0, "nprobe": 0, "shards": 2, "vectors": 6}

    clipdex("index", str(folder), "--data-dir", data, "--index-type", "ivf", "-q")  # nothing new: converted anyway
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["index"]["type"] == "ivf" and status["index"]["shards"] == 2 and status["vectors"] == 6

    bad = clipdex("rebuild-index", "--data-dir", data, "--shards", "0", check=False)
    assert bad.returncode == 2 and "shards must be at least 1" in bad.stderr


def test_export_onnx_and_index_with_each_backend(folder, tmp_path):
    pytest.importorskip("onnxruntime")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = clipdex("export-onnx", TINY, "--int8", env_extra=env).stdout
    assert "fp32:" in out and "int8:" in out
    assert "auto on this CPU: " in out and "images/s" in out  # measured which precision auto takes here
    cached = list((tmp_path / "cache" / "clipdex" / "onnx").glob("*/*.onnx"))
    assert sorted(p.name for p in cached) == ["image.int8.onnx", "image.onnx", "text.onnx"]  # int8: the image tower

    best = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        data = str(tmp_path / backend)
        clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "--backend", backend, "-q", env_extra=env)
        query = folder / "photo_0004.jpg"
        hits = clipdex("search", "--image", str(query), "-k", "3", "--data-dir", data, "--backend", backend,
                       env_extra=env).stdout.splitlines()
        best[backend] = [line.split()[1] for line in hits]
        assert best[backend][0] == str(query)
    assert best["onnx"] == best["torch"]  # fp32 ONNX ranks exactly as PyTorch does


def test_reindex_with_another_model_switches_when_done(folder, tmp_path):
    data = str(tmp_path / "d")
    clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "-q")
    texts = tmp_path / "captions.txt"
    texts.write_text("a red photo\na green photo\n")
    clipdex("index-texts", str(texts), "--data-dir", data)

    out = clipdex("reindex", "--model", "random:clipdex-small", "--data-dir", data, "-q").stdout
    assert "re-embedded 12 images (4 failed) with random:clipdex-small" in out and f"(was {TINY})" in out
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["model"] == "random:clipdex-small" and status["vectors"] == 12 and status["failed"] == 4
    assert not os.path.exists(data + ".next") and not os.path.exists(data + ".previous")
    old = clipdex("search", "x", "--data-dir", data, "--model", TINY, check=False)
    assert old.returncode == 2 and "was built with model 'random:clipdex-small'" in old.stderr
    query = folder / "photo_0005.jpg"
    first = clipdex("search", "--image", str(query), "-k", "1", "--data-dir", data).stdout.split()[1]
    assert first == str(query)
    assert clipdex("reindex", "--data-dir", data, check=False).returncode == 2  # no --model given


def test_a_switch_cut_short_by_a_crash_is_finished_on_the_next_open(tmp_path):
    from indexer.collection import Collection
    from indexer.reindex import COMPLETE_MARKER

    data = tmp_path / "d"
    pending = tmp_path / "d.next"
    Collection(str(pending)).bind_model("random:clipdex-small", 8)
    (pending / COMPLETE_MARKER).write_text("random:clipdex-small")
    # the crash came after `d` was renamed to `d.previous` and before `d.next` became `d`
    Collection(str(tmp_path / "d.previous")).bind_model(TINY, 8)
    assert Collection(str(data)).model_spec == "random:clipdex-small"
    assert not pending.exists() and not (tmp_path / "d.previous").exists()


def test_models_catalogue_shows_sizes_accuracy_and_what_is_cached(tmp_path):
    hub = tmp_path / "hub"
    snapshot = hub / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_pytorch_model.bin").write_bytes(b"weights")  # the file the loader asks for
    (hub / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" / "refs").mkdir()
    (hub / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" / "refs" / "main").write_text("abc123")
    rows = json.loads(clipdex("models", "--json", env_extra={"CLIPDEX_MODEL_CACHE_DIR": str(hub)}).stdout)
    by_spec = {row["spec"]: row for row in rows}
    default = by_spec["ViT-B-32/laion2b_s34b_b79k"]
    assert default["offline"] is True and default["embed_dim"] == 512 and default["image_size"] == 224
    assert default["imagenet_zero_shot"] == pytest.approx(0.6656)
    assert by_spec["ViT-L-14/openai"]["offline"] is False and by_spec["ViT-L-14/openai"]["embed_dim"] == 768
    assert {row["family"] for row in rows} == {"open_clip", "transformers"}
    table = clipdex("models", env_extra={"CLIPDEX_MODEL_CACHE_DIR": str(hub)}).stdout
    assert "ViT-B-32/laion2b_s34b_b79k" in table and "66.6%" in table


def test_the_tests_keep_out_of_the_users_home(folder, tmp_path):
    """conftest gives the run a home of its own: what the CLI remembers lands there."""
    from run_home import REAL_HOME, TEST_HOME

    real = os.path.join(REAL_HOME, ".cache", "clipdex", "last_collection")
    before = os.stat(real).st_mtime_ns if os.path.exists(real) else None
    clipdex("index", str(folder), "--data-dir", str(tmp_path / "data"), "--model", TINY, "-q")
    with open(os.path.join(TEST_HOME, ".cache", "clipdex", "last_collection")) as handle:
        assert handle.read() == str(tmp_path / "data")
    assert (os.stat(real).st_mtime_ns if os.path.exists(real) else None) == before


def test_a_failed_first_index_leaves_nothing_and_an_empty_collection_takes_nothing_over(folder, tmp_path):
    missing = clipdex("index", str(tmp_path / "nowhere" / "photos"), check=False)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / ".clipdex").exists()
    offline = clipdex("index", str(folder), check=False)  # the default pretrained model is not here
    assert offline.returncode == 2 and "hf download" in offline.stderr
    assert not (folder / ".clipdex").exists()
    (folder / "sub").mkdir()
    (folder / ".clipdex").mkdir()  # an empty data dir (left by an older clipdex) above the folder
    lost = subprocess.run([sys.executable, "-m", "api.cli", "status"], cwd=folder / "sub", capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert str(folder / ".clipdex") not in lost.stdout


def test_a_model_name_typo_suggests_the_names_it_resembles(folder, tmp_path):
    typo = clipdex("index", str(folder), "--data-dir", str(tmp_path / "data"), "--model", "random:ViT-B-3", check=False)
    assert typo.returncode == 2 and "did you mean ViT-B-32" in typo.stderr and "clipdex models" in typo.stderr
