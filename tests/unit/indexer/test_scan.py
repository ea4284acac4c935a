import os

from indexer.ingest.scan import scan_folders


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def test_finds_images_recursively_by_extension(tmp_path):
    for name in ["a.jpg", "b.JPEG", "c.png", "d.webp", "e.bmp", "f.gif", "g.tif", "h.tiff", "sub/deep/i.jpg"]:
        _touch(str(tmp_path / name))
    for name in ["notes.txt", "movie.mp4", ".hidden.jpg", ".clipdex/x.jpg"]:
        _touch(str(tmp_path / name))
    found = [os.path.relpath(f.path, tmp_path) for f in scan_folders([str(tmp_path)]).files]
    assert sorted(found) == sorted(
        ["a.jpg", "b.JPEG", "c.png", "d.webp", "e.bmp", "f.gif", "g.tif", "h.tiff", "sub/deep/i.jpg"]
    )


def test_symlink_loop_ends_and_each_file_is_found_once(tmp_path):
    _touch(str(tmp_path / "a" / "x.jpg"))
    os.symlink(str(tmp_path), str(tmp_path / "a" / "loop"))
    os.symlink(str(tmp_path / "a"), str(tmp_path / "again"))
    result = scan_folders([str(tmp_path)])
    assert [os.path.basename(f.path) for f in result.files] == ["x.jpg"]


def test_non_utf8_and_spaced_names_are_found(tmp_path):
    raw = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9  photo.jpg")
    with open(raw, "wb") as handle:
        handle.write(b"x")
    files = scan_folders([str(tmp_path)]).files
    assert len(files) == 1 and os.fsencode(files[0].path) == raw


def test_unlistable_folder_is_reported_not_fatal(tmp_path, monkeypatch):
    _touch(str(tmp_path / "ok" / "a.jpg"))
    _touch(str(tmp_path / "locked" / "b.jpg"))
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan_folders([str(tmp_path)])
    assert [os.path.basename(f.path) for f in result.files] == ["a.jpg"]
    assert result.errors and "Permission denied" in result.errors[0][1]


def test_dangling_symlink_is_reported(tmp_path):
    os.symlink(str(tmp_path / "gone.jpg"), str(tmp_path / "link.jpg"))
    result = scan_folders([str(tmp_path)])
    assert result.files == []
