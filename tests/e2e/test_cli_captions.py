"""`clipdex train-captioner`, `clipdex caption`, `clipdex search --caption` and
`clipdex index-captions`, run as a user runs them."""

import json
import os
import sqlite3

import pytest
from imagefiles import write_photos
from test_cli import TINY, clipdex

pytest.importorskip("transformers")


def test_train_a_captioner_then_caption_files_with_a_broken_one_among_them(tmp_path):
    out = tmp_path / "captioner"
    trained = clipdex("train-captioner", "shapes:200", "--model", TINY, "--out", str(out), "--epochs", "2",
                      "--batch-size", "64", "--dropout", "0")
    assert "captioner written to" in trained.stdout and (out / "captioner.json").exists()
    assert json.loads((out / "captioner.json").read_text())["decoder"]["dropout"] == 0
    bad = clipdex("train-captioner", "shapes:200", "--model", TINY, "--out", str(tmp_path / "x"), "--dropout", "1",
                  check=False)
    assert bad.returncode == 2 and "--dropout 1: it must be at least 0 and below 1" in bad.stderr
    assert not (tmp_path / "x").exists()
    scenes = tmp_path / "scenes"
    clipdex("datasets", "shapes", str(scenes), "--count", "3")
    (scenes / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = clipdex("caption", str(scenes), "--captioner", str(out), check=False)
    assert result.returncode == 1  # one file failed; the others are still captioned
    lines = result.stdout.strip().splitlines()
    vocabulary = set(json.loads((out / "captioner.json").read_text())["vocab"])
    assert len(lines) == 3 and all(line.split("\t")[1] for line in lines)
    assert all(set(line.split("\t")[1].replace(",", "").split()) <= vocabulary for line in lines)
    assert "broken.png: error:" in result.stderr
    as_json = json.loads(clipdex("caption", str(scenes / "scene_0000.png"), "--captioner", str(out), "--json").stdout)
    assert as_json[0]["text"] == lines[0].split("\t")[1] and as_json[0]["error"] is None
    refused = clipdex("caption", str(scenes / "scene_0000.png"), "--captioner", str(out), "--question", "what?",
                      check=False)
    assert refused.returncode == 2 and "does not answer questions" in refused.stderr
    missing = clipdex("caption", str(scenes), "--captioner", str(tmp_path / "nothing-here"), check=False)
    assert missing.returncode == 2 and "unknown captioner" in missing.stderr


def test_search_with_captions_and_captions_indexed_as_texts(tmp_path, tiny_captioner_dir):
    photos = tmp_path / "photos"
    write_photos(str(photos), 5)
    clipdex("index", str(photos), "--model", TINY, "-q")
    data = ["--data-dir", str(photos / ".clipdex"), "--captioner", tiny_captioner_dir]
    first = clipdex("search", "a photo", "-k", "3", "--caption", *data).stdout.splitlines()
    assert len(first) == 6 and all(line.startswith("        ") for line in first[1::2])
    hits = json.loads(clipdex("search", "a photo", "-k", "3", "--caption", "--json", *data).stdout)
    assert [h["caption"] for h in hits] == [line.strip() for line in first[1::2]]  # cached, the same

    assert "indexed 5 captions (5 new, 0 replaced, 0 unchanged" in clipdex("index-captions", *data).stdout
    assert "indexed 0 captions (0 new, 0 replaced, 5 unchanged" in clipdex("index-captions", *data).stdout
    with sqlite3.connect(os.path.join(photos, ".clipdex", "clipdex.sqlite3")) as db:
        texts = db.execute("select text, source from texts").fetchall()
        cached = db.execute("select count(*) from captions").fetchone()[0]
    assert len(texts) == 5 and all(source.startswith("caption:") for _, source in texts)
    assert cached == 5  # index-captions reused what search had captioned and cached the rest
    assert {h["caption"] for h in hits} <= {text for text, _ in texts}
    hybrid = json.loads(clipdex("search", hits[0]["caption"], "-k", "5", "--hybrid", "--caption-weight", "1",
                                "--json", *data).stdout)
    assert hybrid[0]["hybrid_score"] > 0.999  # its own caption, word for word
