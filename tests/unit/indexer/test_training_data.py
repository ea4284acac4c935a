import pytest
from imagefiles import noise_image

from indexer.training_data import TrainingDataError, load_pairs


def test_sidecar_captions(tmp_path):
    for i in range(3):
        noise_image(i).save(tmp_path / f"p{i}.png")
        (tmp_path / f"p{i}.txt").write_text(f"caption {i}\n")
    pairs = load_pairs(str(tmp_path))
    assert pairs.captions == ["caption 0", "caption 1", "caption 2"] and len(pairs.images) == 3


def test_class_folders_become_templated_captions(tmp_path):
    for name in ("ankle_boot", "shirt"):
        (tmp_path / name).mkdir()
        for i in range(2):
            noise_image(i).save(tmp_path / name / f"{i}.png")
    pairs = load_pairs(str(tmp_path))
    assert pairs.classes == ["ankle boot", "shirt"] and pairs.targets == [0, 0, 1, 1]
    assert "ankle boot" in pairs.captions[0]


def test_csv_and_jsonl(tmp_path):
    noise_image(1).save(tmp_path / "a.png")
    (tmp_path / "pairs.csv").write_text("path,caption\na.png,a noisy picture\n")
    (tmp_path / "pairs.jsonl").write_text('{"path": "a.png", "caption": "same picture"}\n')
    assert load_pairs(str(tmp_path / "pairs.csv")).captions == ["a noisy picture"]
    assert load_pairs(str(tmp_path / "pairs.jsonl")).captions == ["same picture"]


def test_generated_shapes():
    pairs = load_pairs("shapes:10:test")
    assert len(pairs.images) == 10 and len(set(pairs.captions)) == 10


@pytest.mark.parametrize("setup, words", [
    ("missing_caption", "has no caption file"),
    ("unreadable_image", "not an image"),
    ("empty_folder", "holds no images"),
    ("bad_jsonl", "pairs.jsonl:1"),
    ("missing_image", "cannot read"),
])
def test_bad_data_names_the_file(tmp_path, setup, words):
    source = str(tmp_path)
    if setup == "missing_caption":
        noise_image(1).save(tmp_path / "a.png")
    elif setup == "unreadable_image":
        (tmp_path / "a.png").write_text("not a png")
        (tmp_path / "a.txt").write_text("a caption")
    elif setup == "bad_jsonl":
        (tmp_path / "pairs.jsonl").write_text("{nope\n")
        source = str(tmp_path / "pairs.jsonl")
    elif setup == "missing_image":
        (tmp_path / "pairs.csv").write_text("path,caption\ngone.png,a caption\n")
        source = str(tmp_path / "pairs.csv")
    with pytest.raises(TrainingDataError, match=words):
        load_pairs(source)
