import pytest

from indexer.texts import TextFileError, read_text_file


def test_txt_csv_and_jsonl(tmp_path):
    (tmp_path / "a.txt").write_text("a red square\n\n  a blue circle  \n")
    (tmp_path / "b.csv").write_text('id,text\n1,"a cat, sleeping"\n2,a dog\n')
    (tmp_path / "c.csv").write_text("first column only\nsecond\n")
    (tmp_path / "d.jsonl").write_text('{"text": "one"}\n\n{"text": "two", "extra": 1}\n')
    assert read_text_file(str(tmp_path / "a.txt")) == ["a red square", "a blue circle"]
    assert read_text_file(str(tmp_path / "b.csv")) == ["a cat, sleeping", "a dog"]
    assert read_text_file(str(tmp_path / "c.csv")) == ["first column only", "second"]
    assert read_text_file(str(tmp_path / "d.jsonl")) == ["one", "two"]


def test_bad_files_say_what_is_wrong(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(TextFileError, match="bad.jsonl:2"):
        read_text_file(str(tmp_path / "bad.jsonl"))
    (tmp_path / "nofield.jsonl").write_text('{"caption": "x"}\n')
    with pytest.raises(TextFileError, match='"text"'):
        read_text_file(str(tmp_path / "nofield.jsonl"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(TextFileError, match="not UTF-8"):
        read_text_file(str(tmp_path / "latin1.txt"))
    with pytest.raises(TextFileError, match="cannot read"):
        read_text_file(str(tmp_path / "missing.txt"))
