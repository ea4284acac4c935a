"""Caption texts follow the files: `clipdex index` drops the captions of files that changed
or went and hands a moved file's caption to its new id, and a sync gives every indexed
image exactly one caption, the asked-for captioner's, generating only what the caption
cache lacks."""

import os

import pytest
from imagefiles import write_photos
from test_caption_cache import Counting

from indexer.captions import CaptionsFollowFiles, caption_source, read_images, sync_caption_texts
from indexer.collection import Collection
from indexer.ingest import IndexOptions, index_folders
from indexer.texts import TextCollection
from retrieval.captioning import load_captioner

pytest.importorskip("transformers")


def _index(collection, folder, encoder):
    """An index run with the captions following the files (as `clipdex index` runs it);
    returns its report and how many captions went."""
    follow = CaptionsFollowFiles(collection)
    report = index_folders(collection, [str(folder)], encoder.spec, lambda: encoder,
                           IndexOptions(batch_size=4, num_workers=0, progress=False), events=follow)
    return report, follow.dropped


def _captions(collection) -> dict[str, list[str]]:
    """{path: [caption texts]} of the collection, and the texts of sources no file has."""
    by_source = TextCollection(collection).texts_by_source("caption:")
    out = {row["path"]: [text for _, text in by_source.pop(caption_source(row["id"]), [])]
           for row in collection.store.iter_ok()}
    if by_source:
        out["(no file)"] = [text for items in by_source.values() for _, text in items]
    return out


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    write_photos(str(folder), 6)
    return folder


def test_captions_follow_changed_moved_and_deleted_files(tmp_path, photos, tiny_encoder, tiny_captioner_dir):
    captioner = Counting(load_captioner(tiny_captioner_dir, device="cpu"), batch_size=4)
    collection = Collection(str(tmp_path / "data"))
    _index(collection, photos, tiny_encoder)
    first = sync_caption_texts(collection, captioner, lambda: tiny_encoder)
    assert (first.added, first.kept, first.failed) == (6, 0, 0) and captioner.images == 6
    captions = _captions(collection)
    assert len(captions) == 6 and all(len(texts) == 1 and texts[0] for texts in captions.values())

    again = sync_caption_texts(collection, captioner, lambda: pytest.fail("nothing to embed"))
    assert (again.added, again.replaced, again.kept, again.removed) == (0, 0, 6, 0) and captioner.images == 6

    names = sorted(os.listdir(photos))
    write_photos(str(tmp_path / "other"), 1, start=99)  # new content under an old name
    os.replace(tmp_path / "other" / os.listdir(tmp_path / "other")[0], photos / names[0])
    os.replace(photos / names[1], photos / ("renamed-" + names[1]))
    os.remove(photos / names[2])
    report, dropped = _index(collection, photos, tiny_encoder)
    assert (report.changed, report.moved, report.removed, dropped) == (1, 1, 1, 2)
    after_index = _captions(collection)
    assert after_index[str(photos / names[0])] == []  # its caption described the old picture
    renamed = str(photos / ("renamed-" + names[1]))
    assert after_index[renamed] == captions[str(photos / names[1])]  # a new id, the same picture and caption
    assert "(no file)" not in after_index  # the deleted file's caption went with it
    assert sum(len(texts) for texts in after_index.values()) == 4

    synced = sync_caption_texts(collection, captioner, lambda: tiny_encoder)
    assert (synced.added, synced.replaced, synced.kept, synced.removed) == (1, 0, 4, 0)
    assert captioner.images == 7  # only the changed picture was captioned again
    final = _captions(collection)
    assert len(final) == 5 and all(len(texts) == 1 for texts in final.values())
    assert final[renamed] == captions[str(photos / names[1])]
    collection.close()


def test_another_captioner_replaces_the_captions_and_stale_ones_are_repaired(
        tmp_path, photos, tiny_encoder, tiny_captioner_dir):
    from tiny_vlms import save_tiny_git

    collection = Collection(str(tmp_path / "data"))
    _index(collection, photos, tiny_encoder)
    first = load_captioner(tiny_captioner_dir, device="cpu")
    sync_caption_texts(collection, first, lambda: tiny_encoder)
    rows = list(collection.store.iter_ok())
    texts = TextCollection(collection)
    # What a crash or a concurrent writer can leave: a second caption of one file, and the
    # caption of a file id that no longer exists.
    texts.add(["a second caption", "a caption of nothing"], tiny_encoder,
              source=[caption_source(rows[0]["id"]), caption_source(10_000)])
    second = load_captioner(save_tiny_git(str(tmp_path / "second-git")), device="cpu")
    assert second.name != first.name
    report = sync_caption_texts(collection, second, lambda: tiny_encoder)
    assert report.removed == 1 and report.replaced >= 1 and report.replaced + report.kept == 6
    expected = second.caption(read_images(rows)[0])
    assert _captions(collection) == {row["path"]: [text] for row, text in zip(rows, expected)}
    collection.close()


def test_a_damaged_text_index_does_not_stop_image_indexing(tmp_path, photos, tiny_encoder, tiny_captioner_dir):
    collection = Collection(str(tmp_path / "data"))
    _index(collection, photos, tiny_encoder)
    sync_caption_texts(collection, load_captioner(tiny_captioner_dir, device="cpu"), lambda: tiny_encoder)
    texts_file = tmp_path / "data" / "texts.faiss"
    texts_file.write_bytes(texts_file.read_bytes()[:100])  # truncated
    os.remove(photos / sorted(os.listdir(photos))[0])
    report, dropped = _index(collection, photos, tiny_encoder)
    assert report.removed == 1 and dropped == 0  # the caption stays; the images are indexed
    assert collection.store.counts()["ok"] == 5
    collection.close()


def test_reindex_with_another_model_keeps_each_caption_with_its_picture(
        tmp_path, photos, tiny_encoder, tiny_captioner_dir):
    from indexer.reindex import reindex_with_model
    from retrieval.encoders import TorchEncoder
    from retrieval.models import load_model

    captioner = Counting(load_captioner(tiny_captioner_dir, device="cpu"), batch_size=4)
    collection = Collection(str(tmp_path / "data"))
    _index(collection, photos, tiny_encoder)
    os.remove(photos / sorted(os.listdir(photos))[0])  # the first id goes: the new collection's ids all differ
    _index(collection, photos, tiny_encoder)
    sync_caption_texts(collection, captioner, lambda: tiny_encoder)
    before = _captions(collection)
    small = TorchEncoder(load_model("random:clipdex-small"), device="cpu", batch_size=8)
    reindex_with_model(collection, small.spec, lambda: small, IndexOptions(batch_size=4, num_workers=0, progress=False))
    collection.close()
    switched = Collection(str(tmp_path / "data"))
    assert switched.model_spec == small.spec
    assert _captions(switched) == before  # each caption with its own picture, under its new id
    again = sync_caption_texts(switched, captioner, lambda: pytest.fail("nothing to embed"))
    assert (again.kept, captioner.images) == (5, 5)  # the caption cache came along: nothing captioned again
    switched.close()


def test_a_file_removed_by_an_index_run_during_a_sync_gets_no_caption(tmp_path, photos, tiny_encoder,
                                                                       tiny_captioner_dir):
    collection = Collection(str(tmp_path / "data"))
    _index(collection, photos, tiny_encoder)
    victim = photos / sorted(os.listdir(photos))[0]  # in the first batch: read before it goes

    class IndexingMeanwhile(Counting):
        def caption(self, images, prompt=None):
            if victim.exists():  # `clipdex index` runs while the first batch is captioned
                os.remove(victim)
                assert _index(collection, photos, tiny_encoder)[0].removed == 1
            return super().caption(images, prompt)

    report = sync_caption_texts(collection, IndexingMeanwhile(load_captioner(tiny_captioner_dir, device="cpu"), batch_size=4),
                                lambda: tiny_encoder)
    assert (report.added, report.failed) == (5, 0)
    captions = _captions(collection)
    assert "(no file)" not in captions and len(captions) == 5 and all(len(t) == 1 for t in captions.values())
    collection.close()
