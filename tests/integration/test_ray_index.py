"""`clipdex index --ray`: a local Ray cluster (2 CPUs) indexes a folder into the same
collection the single-process pipeline builds, resumes after a crash by computing only
the shards it lacks, and retries a task that fails. The actors embed with the ONNX export,
as `clipdex index --ray` does on CPUs by default: they start without importing torch."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from imagefiles import write_bad_files, write_odd_but_valid, write_photos

from indexer.collection import Collection
from indexer.ingest import IndexOptions, index_folders
from indexer.store import OK
from retrieval.encoders.recipe import EncoderRecipe

ray = pytest.importorskip("ray")

from indexer.ingest import ray_pass as ray_index  # noqa: E402 (after the skip: it needs Ray)
from indexer.ingest.ray_pass import SHARD_DIR, RayIndexError, RayOptions, index_folders_ray  # noqa: E402

TINY = "random:clipdex-tiny"
OPTIONS = IndexOptions(batch_size=8, num_workers=1, checkpoint_seconds=0.0, progress=False)
NO_CHECKPOINT = IndexOptions(batch_size=8, num_workers=1, checkpoint_seconds=3600.0, progress=False)
RAY = RayOptions(workers=2, shard_files=16)  # files get ids 1..40: shards of ids 1-15, 16-31, 32-40
ONE_ACTOR = RayOptions(workers=1, shard_files=16)  # (starts faster)


@pytest.fixture(scope="module")
def cluster():
    # The actors unpickle this module's encoder factory: they import it from tests/.
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([tests, os.path.join(tests, "integration")])}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """40 files: photos, odd but valid images (a non-UTF-8 name among them), 4 bad ones."""
    root = tmp_path_factory.mktemp("ray") / "photos"
    write_photos(str(root), 26)
    write_odd_but_valid(str(root / "odd"))
    write_bad_files(str(root / "bad"))
    return str(root)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """The tiny model's ONNX encoder, exported once here for every process of this module."""
    made = EncoderRecipe(TINY, backend="onnx", batch_size=8, onnx_cache=str(tmp_path_factory.mktemp("onnx")))
    made()
    return made


@pytest.fixture(scope="module")
def encoder(recipe):
    return recipe()


class Encoders:
    """A picklable encoder factory for the actors: the recipe's encoder, which counts the
    images it embeds in a file (actors are other processes) and can fail once."""

    def __init__(self, recipe: EncoderRecipe, count_file: str, fail_once_marker: str | None = None):
        self.recipe, self.count_file, self.fail_once_marker = recipe, count_file, fail_once_marker

    def __call__(self):
        encoder = self.recipe()
        real = encoder.embed_pixels
        factory = self

        def embed_pixels(pixels):
            if factory.fail_once_marker:
                try:
                    os.close(os.open(factory.fail_once_marker, os.O_CREAT | os.O_EXCL))
                    raise RuntimeError("simulated task failure")
                except FileExistsError:
                    pass
            vectors = real(pixels)
            with open(factory.count_file, "a") as handle:
                handle.write(f"{len(pixels)}\n")
            return vectors

        encoder.embed_pixels = embed_pixels
        return encoder

    def embedded(self) -> int:
        if not os.path.exists(self.count_file):
            return 0
        with open(self.count_file) as handle:
            return sum(int(line) for line in handle)


def _index(data_dir, folder, factory, options=OPTIONS, ray_options=RAY):
    collection = Collection(data_dir)
    try:
        if ray_options is None:
            return index_folders(collection, [folder], TINY, factory, options)
        return index_folders_ray(collection, [folder], TINY, factory, options, ray_options)
    finally:
        collection.close()


def _contents(data_dir) -> dict:
    """path -> (file id, width, height, content hash, vector) of every indexed file, plus failures."""
    collection = Collection(data_dir)
    try:
        index = collection.load_index()
        assert set(index.ids().tolist()) == collection.store.vector_ids()
        counts = collection.store.counts()
        assert counts["pending"] == 0
        rows = {row["path"]: (row["id"], row["width"], row["height"], row["content_hash"],
                              index.reconstruct(row["vector_id"])) for row in collection.store.iter_ok()}
        return {"ok": rows, "failed": collection.store.failures()}
    finally:
        collection.close()


def _assert_same(reference: dict, got: dict) -> None:
    assert got["failed"] == reference["failed"]  # same files, same errors
    assert set(got["ok"]) == set(reference["ok"])
    for path, (file_id, width, height, digest, vector) in reference["ok"].items():
        got_id, got_width, got_height, got_digest, got_vector = got["ok"][path]
        assert (got_id, got_width, got_height, got_digest) == (file_id, width, height, digest), path
        np.testing.assert_allclose(got_vector, vector, atol=1e-5, err_msg=path)


def _embedded(encoder, path):
    from retrieval.images.decode import decode_image

    with open(path, "rb") as handle:
        return encoder.embed_images([decode_image(handle.read()).image])[0]


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory, encoder):
    """The single-process pipeline's collection of the folder."""
    data = str(tmp_path_factory.mktemp("reference") / "data")
    report = _index(data, folder, lambda: encoder, ray_options=None)
    assert (report.embedded, report.failed) == (36, 4)
    return _contents(data)


def test_ray_builds_the_same_collection_as_one_process_retrying_a_failed_task(cluster, folder, reference, recipe,
                                                                             tmp_path):
    data = str(tmp_path / "data")
    marker = str(tmp_path / "failed-once")
    encoders = Encoders(recipe, str(tmp_path / "count"), fail_once_marker=marker)
    report = _index(data, folder, encoders)
    assert os.path.exists(marker)  # one embedding task raised, and was run again
    assert (report.embedded, report.failed, report.new) == (36, 4, 40)
    assert encoders.embedded() == 36
    _assert_same(reference, _contents(data))
    assert os.listdir(os.path.join(data, SHARD_DIR)) == []  # committed shards are deleted

    again = _index(data, folder, encoders)
    assert again.up_to_date and encoders.embedded() == 36


def test_a_rerun_after_a_crash_computes_only_the_missing_shards(cluster, folder, reference, recipe, tmp_path,
                                                                monkeypatch):
    data = str(tmp_path / "data")
    written = []
    write_shard = ray_index.write_shard

    def crash_at_the_third_shard(path, columns):
        if len(written) == 2:
            raise RuntimeError("simulated crash")
        write_shard(path, columns)
        written.append(path)

    monkeypatch.setattr(ray_index, "write_shard", crash_at_the_third_shard)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _index(data, folder, Encoders(recipe, str(tmp_path / "first")), NO_CHECKPOINT, ONE_ACTOR)
    monkeypatch.undo()

    # Two shards are on disk, not yet committed: their files are still pending.
    shard_dir = os.path.join(data, SHARD_DIR)
    assert sorted(os.listdir(shard_dir)) == sorted(os.path.basename(p) for p in written)
    on_disk = set()
    for name in os.listdir(shard_dir):
        with np.load(os.path.join(shard_dir, name)) as saved:
            on_disk |= set(saved["ids"].tolist())
    collection = Collection(data)
    assert collection.store.counts()["pending"] == 40
    collection.close()
    decodable = {file_id for file_id, *_ in reference["ok"].values()}

    encoders = Encoders(recipe, str(tmp_path / "rerun"))
    report = _index(data, folder, encoders, NO_CHECKPOINT, ONE_ACTOR)
    assert encoders.embedded() == len(decodable - on_disk) > 0  # only the missing shard is embedded
    assert (report.embedded, report.failed) == (36, 4)
    _assert_same(reference, _contents(data))
    assert os.listdir(shard_dir) == []


def test_cli_index_ray_reuses_moved_files_vectors_and_embeds_new_ones(cluster, tmp_path, encoder, capsys):
    from api.cli.main import main

    folder = tmp_path / "photos"
    write_photos(str(folder), 10)
    data = str(tmp_path / "data")
    flags = ["--model", TINY, "--data-dir", data, "-q", "--backend", "onnx", "--batch-size", "8"]
    assert main(["index", str(folder), *flags]) == 0  # one process
    before = _contents(data)["ok"]
    os.makedirs(folder / "moved")
    for i in range(3):
        os.rename(folder / f"photo_{i:04d}.jpg", folder / "moved" / f"photo_{i:04d}.jpg")
    added = write_photos(str(folder), 2, start=10)
    capsys.readouterr()

    assert main(["index", str(folder), *flags, "--ray", "--ray-workers", "1"]) == 0
    assert "indexed 2 new or changed, 3 moved, 0 failed, 0 removed" in capsys.readouterr().out
    after = _contents(data)["ok"]
    assert len(after) == 12
    for i in range(3):  # the moved files kept their vectors: not embedded again
        old, new = before[str(folder / f"photo_{i:04d}.jpg")], after[str(folder / "moved" / f"photo_{i:04d}.jpg")]
        assert new[3] == old[3]
        np.testing.assert_array_equal(new[4], old[4])
    for path in added:
        np.testing.assert_allclose(after[path][4], _embedded(encoder, path), atol=1e-5)


def test_bad_address_and_bad_worker_count_are_clear_errors(folder, tmp_path, capsys):
    from api.cli.main import main

    flags = ["index", folder, "--model", TINY, "--data-dir", str(tmp_path / "d"), "-q"]
    for extra, words in ((["--ray", "127.0.0.1:1"], "cannot reach the Ray cluster at '127.0.0.1:1'"),
                         (["--ray", "nonsense"], "bad Ray address 'nonsense'"),
                         (["--ray", "--ray-workers", "0"], "--ray-workers must be at least 1")):
        assert main(flags + extra) == 2
        assert words in capsys.readouterr().err


def test_missing_ray_names_the_extra_to_install(monkeypatch):
    monkeypatch.setattr(ray_index.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RayIndexError, match=r"pip install 'clipdex\[ray\]'"):
        ray_index.check_ray_installed()


def test_without_ray_flag_nothing_of_ray_is_imported(folder, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from api.cli.main import main
        assert main(["index", {folder!r}, "--model", {TINY!r}, "--data-dir", {str(tmp_path / "d")!r}, "-q"]) == 0
        loaded = sorted(name for name in sys.modules if name == "ray" or name.startswith("ray."))
        assert not loaded, loaded
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert Collection(str(tmp_path / "d")).store.counts()[OK] == 36


def test_ray_reads_the_text_of_pictures_in_its_tasks(cluster, tmp_path, tiny_encoder):
    pytest.importorskip("rapidocr_onnxruntime")
    from indexer.ocr import OcrOptions, read_collection_texts, search_text_in_images
    from indexer.ocr.ray_read import RayReader
    from retrieval.datasets.text_scenes import make_text_scenes, write_text_scenes

    scenes = make_text_scenes(6, seed=3, text_share=0.75)
    write_text_scenes(str(tmp_path / "scans"), scenes)
    collection = Collection(str(tmp_path / "data"))
    index_folders(collection, [str(tmp_path / "scans")], TINY, lambda: tiny_encoder, OPTIONS)
    report = read_collection_texts(collection, "rapidocr", OcrOptions(progress=False, distributor=RayReader(RAY)))
    assert (report.read, report.failed) == (6, 0) and report.with_text == sum(bool(s.lines) for s in scenes)
    scene = next(s for s in scenes if s.lines)
    hits = search_text_in_images(collection, next(iter(scene.queries.values())), 3)
    assert os.path.basename(hits[0].path) == scene.name + ".jpg"
