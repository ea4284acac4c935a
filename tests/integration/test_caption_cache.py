"""Captions of indexed files, cached in the collection's database (SQLite and PostgreSQL):
captioned once, kept across paths, a bad file costs the others nothing, and the time
budget leaves the rest pending."""

import os

import pytest
from imagefiles import write_photos

from indexer.captions import CaptionCache, caption_rows
from indexer.ingest.decode import content_hash
from indexer.store import Store
from retrieval.captioning import load_captioner


class Counting:
    """A real captioner that counts the images it was asked to caption."""

    def __init__(self, inner, batch_size=2):
        self.inner, self.name, self.batch_size, self.images = inner, inner.name, batch_size, 0

    def caption(self, images, prompt=None):
        self.images += len(images)
        return self.inner.caption(images, prompt=prompt)


@pytest.fixture
def captioner(tiny_captioner_dir):
    return Counting(load_captioner(tiny_captioner_dir, device="cpu"))


def _rows(folder):
    rows = []
    for number, name in enumerate(sorted(os.listdir(folder)), 1):
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            rows.append({"id": number, "path": path, "content_hash": content_hash(handle.read())})
    return rows


def test_captions_are_made_once_and_found_by_content(tmp_path, database_url, captioner):
    folder = tmp_path / "photos"
    write_photos(str(folder), 5)
    store = Store(database_url)
    rows = _rows(folder)
    first = caption_rows(store, captioner, rows)
    assert captioner.images == 5 and all(r.caption is not None and not r.cached for r in first.values())
    again = caption_rows(store, captioner, rows)
    assert captioner.images == 5  # nothing captioned twice
    assert {i: r.caption for i, r in again.items()} == {i: r.caption for i, r in first.items()}
    assert all(r.cached for r in again.values())
    moved = [{**rows[0], "id": 99, "path": str(tmp_path / "elsewhere.jpg")}]  # same bytes, another path
    assert caption_rows(store, captioner, moved)[99].cached
    other_prompt = caption_rows(store, captioner, rows[:1], prompt="a photo of")
    assert captioner.images == 6 and not other_prompt[1].cached  # a prompt is part of the key
    CaptionCache(store).put({rows[0]["content_hash"]: "a racing duplicate"}, captioner.name, None)  # no error
    store.close()


def test_a_broken_file_in_a_batch_loses_no_other_caption(tmp_path, captioner):
    folder = tmp_path / "photos"
    write_photos(str(folder), 3)
    (folder / "broken.jpg").write_bytes(open(next(folder.glob("*.jpg")), "rb").read()[:300])  # truncated
    rows = _rows(folder)
    rows.append({"id": 50, "path": str(folder / "gone.jpg"), "content_hash": "0" * 64})
    results = caption_rows(None, captioner, rows)
    broken = next(r["id"] for r in rows if r["path"].endswith("broken.jpg"))
    assert results[broken].error and results[broken].caption is None
    assert "cannot read the file" in results[50].error
    assert sum(r.caption is not None for r in results.values()) == 3


def test_the_time_budget_leaves_the_rest_pending(tmp_path, captioner):
    folder = tmp_path / "photos"
    write_photos(str(folder), 6)
    results = caption_rows(None, captioner, _rows(folder), budget_s=0.0)
    done = [r for r in results.values() if r.caption is not None]
    assert len(done) == 2  # the first batch always runs
    assert sum(r.pending for r in results.values()) == 4
