"""OCR engines on rendered text: RapidOCR (a real pretrained model, offline) reads upright,
turned and EXIF-tagged pictures, with boxes in the upright picture's pixels; its first
stage skips pictures without text; Tesseract reads too; engines that are not there say
how to install them."""

import io
import sys

import pytest
from PIL import Image, ImageDraw, ImageFont

from retrieval.datasets.text_scenes import FontsMissing, fonts, make_text_scenes, scene_bytes
from retrieval.images.decode import decode_image
from retrieval.ocr import OcrError, OcrNotInstalled, load_ocr_engine
from retrieval.ocr.matching import match_lines
from retrieval.ocr.tesseract import lines_of_tsv

TEXT_AT = (60, 150)  # where the text starts in the 640 x 400 picture


def _font(size=40):
    try:
        return ImageFont.truetype(fonts()[0], size)
    except FontsMissing as exc:
        pytest.skip(str(exc))


def _picture(text="PARKING 24h", size=(640, 400)) -> tuple[Image.Image, tuple]:
    picture = Image.new("RGB", size, (235, 235, 225))
    pen = ImageDraw.Draw(picture)
    pen.text(TEXT_AT, text, font=_font(), fill=(20, 20, 60))
    return picture, pen.textbbox(TEXT_AT, text, font=_font())


def _inside(box, bounds, slack=12):
    return (box[0] >= bounds[0] - slack and box[1] >= bounds[1] - slack and box[2] <= bounds[2] + slack
            and box[3] <= bounds[3] + slack)


@pytest.fixture(scope="module")
def rapidocr():
    pytest.importorskip("rapidocr_onnxruntime")
    return load_ocr_engine("rapidocr")


def test_rapidocr_reads_a_line_and_says_where_it_is(rapidocr):
    picture, bounds = _picture()
    lines = rapidocr.read(picture)
    assert match_lines("PARKING 24h", [line.label for line in lines]) is not None, lines
    line = lines[0]
    assert _inside(line.box, bounds) and line.box[2] - line.box[0] > 0.6 * (bounds[2] - bounds[0])
    assert 0.5 < line.score <= 1.0 and line.method == "rapidocr" and len(line.quad) == 4
    assert rapidocr.name.startswith("rapidocr-") and "+det480-960" in rapidocr.name


@pytest.mark.parametrize("turn", [Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270])
def test_rapidocr_reads_turned_pictures(rapidocr, turn):
    picture, _ = _picture("EXIT 12")
    assert match_lines("EXIT 12", [line.label for line in rapidocr.read(picture.transpose(turn))]) is not None


def test_an_exif_turned_picture_is_read_upright_with_upright_boxes(rapidocr):
    picture, bounds = _picture("Hauptstraße 5")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter to the left; shown turned back
    stored = io.BytesIO()
    picture.transpose(Image.ROTATE_90).save(stored, "JPEG", quality=95, exif=exif.tobytes())
    upright = decode_image(stored.getvalue()).image
    assert upright.size == picture.size
    lines = rapidocr.read(upright)
    assert match_lines("Hauptstrasse 5", [line.label for line in lines]) is not None, lines
    assert _inside(lines[0].box, bounds)


def test_a_picture_without_text_costs_only_the_detector(rapidocr, monkeypatch):
    def no_recognising(*args):
        raise AssertionError("the recogniser ran on a picture without text")

    monkeypatch.setattr(rapidocr._ocr, "text_rec", no_recognising)
    assert rapidocr.read(Image.new("RGB", (640, 480), (90, 140, 200))) == []
    names = {load_ocr_engine(spec).name for spec in ("rapidocr", "rapidocr:full", "rapidocr:320")}
    assert len(names) == 3  # each reads differently: their readings are kept apart


def test_slivers_and_tiny_pictures_are_read_too(rapidocr):
    sliver = Image.new("RGB", (2000, 60), (240, 240, 240))
    ImageDraw.Draw(sliver).text((900, 8), "PLATFORM 9", font=_font(), fill=(0, 0, 0))
    line, = rapidocr.read(sliver)
    assert line.label == "PLATFORM 9" and 880 < line.box[0] < line.box[2] < 1200
    tiny = Image.new("RGB", (50, 40), (240, 240, 240))
    ImageDraw.Draw(tiny).text((2, 8), "OK", font=_font(20), fill=(0, 0, 0))
    assert [line.label for line in rapidocr.read(tiny)] == ["OK"]
    assert rapidocr.read(Image.new("RGB", (1, 1))) == []


def test_tesseract_reads_a_line_into_one_region():
    try:
        engine = load_ocr_engine("tesseract")
    except OcrNotInstalled as exc:
        assert "apt-get install tesseract-ocr" in str(exc)
        pytest.skip(str(exc))
    picture, bounds = _picture("PARKING 24h")
    lines = engine.read(picture)
    assert match_lines("PARKING 24h", [line.label for line in lines]) is not None, lines
    assert _inside(lines[0].box, bounds) and engine.name.startswith("tesseract-")


def test_tesseract_words_become_lines():
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t10\t20\t30\t10\t90\tTotal\n"
           "5\t1\t1\t1\t1\t2\t45\t21\t20\t10\t70\t12\n"
           "5\t1\t1\t1\t2\t1\t10\t40\t30\t10\t-1\t \n"
           "5\t1\t1\t1\t3\t1\t10\t60\t30\t10\t95\tEUR\n")
    total, eur = lines_of_tsv(tsv, 100, 100)
    assert total.label == "Total 12" and total.box == (10, 20, 65, 31) and total.score == pytest.approx(0.8)
    assert eur.label == "EUR"


def test_engines_that_are_not_there_say_how_to_get_them(monkeypatch, tmp_path):
    with pytest.raises(OcrError, match="unknown OCR engine 'abbyy'"):
        load_ocr_engine("abbyy")
    with pytest.raises(OcrError, match="write --ocr after the folders"):
        load_ocr_engine(str(tmp_path))
    with pytest.raises(OcrError, match="rapidocr:full"):
        load_ocr_engine("rapidocr:fast")
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # as if not installed
    with pytest.raises(OcrNotInstalled, match=r"pip install 'clipdex\[ocr\]'"):
        load_ocr_engine("rapidocr")
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract program on it
    with pytest.raises(OcrNotInstalled, match="apt-get install tesseract-ocr"):
        load_ocr_engine("tesseract")


def test_tesseract_without_a_language_names_its_package():
    try:
        load_ocr_engine("tesseract:eng")
    except OcrNotInstalled as exc:
        pytest.skip(str(exc))
    with pytest.raises(OcrNotInstalled, match="apt-get install tesseract-ocr-xyz"):
        load_ocr_engine("tesseract:eng+xyz")


def test_text_scenes_are_deterministic_with_unique_targets():
    first, again = make_text_scenes(40, seed=5, text_share=0.75), make_text_scenes(40, seed=5, text_share=0.75)
    assert [s.lines for s in first] == [s.lines for s in again]
    assert scene_bytes(first[3]) == scene_bytes(again[3])
    targets = [s.lines[0].lower() for s in first if s.lines]
    assert len(set(targets)) == len(targets) and 20 <= len(targets) < 40
    tagged = [s for s in first if s.rotation == "exif90"]
    assert all(decode_image(scene_bytes(s)).image.size == s.image.size[::-1] for s in tagged)
