"""Text in pictures from the command line, in real subprocesses: `index --ocr` reads the
text (remembered), `search --text-in-image` finds it as a person types it, `index-ocr`
fills in a collection indexed without it, `status` and `ocr` show it, and an engine that is
not there fails at once with its install command, leaving nothing behind."""

import json
import os

import pytest
from imagefiles import write_bad_files
from test_cli import TINY, clipdex

pytest.importorskip("rapidocr_onnxruntime")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes") / "Scans"
    out = clipdex("datasets", "text", str(folder), "--count", "8", "--seed", "3", "--text-share", "0.75")
    if out.returncode:
        pytest.skip(out.stderr)
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    return folder, queries


def test_index_with_ocr_then_search_by_the_words_in_pictures(scenes, tmp_path):
    folder, queries = scenes
    write_bad_files(str(folder / "junk"))
    data = str(tmp_path / "data")
    out = clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "--ocr", "-q").stdout
    assert "read the text of 8 pictures (6 with text, 0 failed)" in out
    asked = {}  # one query of each kind (tests/integration/test_ocr_collection.py asks them all)
    for entry in queries:
        for kind, query in entry["queries"].items():
            asked.setdefault(kind, (entry["file"], query))
    for kind, (name, query) in asked.items():
        lines = clipdex("search", "--text-in-image", query, "--data-dir", data, "-k", "3").stdout.splitlines()
        assert lines and lines[0].split()[1].endswith(name), (kind, query, lines)
        assert lines[1].lstrip().startswith('"')  # the matching line, and where it is
    code = next(e for e in queries if "half_code" in e["queries"])
    hits = json.loads(clipdex("search", "a sign", "--text-in-image", code["queries"]["half_code"].lower(),
                              "--data-dir", data, "--json").stdout)
    assert hits[0]["path"].endswith(code["file"]) and hits[0]["regions"][0]["method"] == "rapidocr"
    assert len(hits[0]["regions"][0]["box"]) == 4 and hits[0]["text_score"] == 1.0

    nothing = clipdex("search", "--text-in-image", "Xylophone", "--data-dir", data)
    assert nothing.stdout == "" and "no picture holds that text" in nothing.stderr
    status = json.loads(clipdex("status", "--data-dir", data, "--json").stdout)
    assert status["ocr"]["read"] == 8 and status["ocr"]["with_text"] == 6 and status["ocr"]["engine"] == "rapidocr"
    again = clipdex("index", "--data-dir", data, "-q").stdout  # remembered: nothing new to read
    assert "up to date" in again and "every picture already read" in again


def test_index_ocr_fills_in_a_collection_indexed_without_it(scenes, tmp_path):
    folder, queries = scenes
    data = str(tmp_path / "data")
    clipdex("index", str(folder), "--data-dir", data, "--model", TINY, "-q")
    before = clipdex("search", "--text-in-image", "anything", "--data-dir", data, check=False)
    assert before.returncode == 2 and "clipdex index-ocr" in before.stderr
    out = json.loads(clipdex("index-ocr", "--data-dir", data, "--json", "--workers", "2").stdout)
    assert out["read"] == 8 and out["failed"] == 0
    entry = next(e for e in queries if e["queries"])
    query = next(iter(entry["queries"].values()))
    assert clipdex("search", "--text-in-image", query, "--data-dir", data).stdout.split()[1].endswith(entry["file"])


def test_ocr_prints_the_text_of_files(scenes):
    folder, queries = scenes
    entry = next(e for e in queries if e["lines"] and e["rotation"] == "upright")
    out = json.loads(clipdex("ocr", str(folder / entry["file"]), "--json").stdout)
    assert out["engine"].startswith("rapidocr") and out["files"][0]["lines"]
    bad = clipdex("ocr", str(folder / "missing.jpg"), check=False)
    assert bad.returncode == 2 and "missing.jpg" in bad.stderr


def test_an_engine_that_is_not_there_fails_first_and_leaves_nothing(scenes, tmp_path):
    folder, _ = scenes
    data = tmp_path / "data"
    out = clipdex("index", str(folder), "--data-dir", str(data), "--model", TINY, "--ocr", "tesseract:xyz", check=False)
    assert out.returncode == 2 and "tesseract" in out.stderr and "apt-get install" in out.stderr
    assert not data.exists()
    swapped = clipdex("index", "--ocr", str(folder), "--data-dir", str(data), "--model", TINY, check=False)
    assert swapped.returncode == 2 and "write --ocr after the folders" in swapped.stderr
    assert not os.path.exists(data)
