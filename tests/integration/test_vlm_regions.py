"""VLMs that read text and find regions, through the captioning backends: each family is
asked its own way, what it writes (special tokens kept) is parsed into regions in the
picture's pixels. The tiny random models' words are noise, so the model's output is set
to a documented one where the parsing is checked; the real generation runs for plumbing."""

import pytest
import torch
from PIL import Image

pytest.importorskip("transformers")

from tiny_vlms import save_tiny_florence2, save_tiny_git, save_tiny_paligemma, save_tiny_qwen2_vl  # noqa: E402

from retrieval.captioning import load_captioner  # noqa: E402
from retrieval.ocr import OcrError, load_ocr_engine  # noqa: E402
from retrieval.ocr.vlm import CHAT_OCR, FLORENCE_OCR  # noqa: E402


def _writes(captioner, text: str, prompts: list):
    """Make the model write ``text`` (after echoing its prompt, as decoder-only models do)."""
    tokenizer = captioner.processor.tokenizer
    answer = torch.tensor([tokenizer(text, add_special_tokens=False).input_ids])

    def generate(**inputs):
        prompts.append(tokenizer.decode(inputs["input_ids"][0]) if "input_ids" in inputs else None)
        return answer if captioner.encoder_decoder else torch.cat([inputs["input_ids"], answer], dim=1)

    captioner.model.generate = generate


@pytest.fixture(scope="module")
def florence(tmp_path_factory):
    return save_tiny_florence2(str(tmp_path_factory.mktemp("florence")))


def test_florence_reads_text_lines_with_their_corners(florence):
    engine = load_ocr_engine(f"transformers:{florence}", device="cpu")
    asked = []
    _writes(engine.captioner, "</s><s>EXIT<loc_100><loc_200><loc_300><loc_200><loc_300><loc_250><loc_100><loc_250>"
                              "Platz 4<loc_500><loc_500><loc_900><loc_500><loc_900><loc_600><loc_500><loc_600></s>", asked)
    lines = engine.read(Image.new("RGB", (1000, 400)))
    assert [line.label for line in lines] == ["EXIT", "Platz 4"]
    assert lines[0].box == pytest.approx((100.5, 80.2, 300.5, 100.2), abs=0.01) and len(lines[0].quad) == 4
    assert lines[0].method == "florence2" and engine.name.endswith("#ocr")
    assert FLORENCE_OCR in asked[0] or "text" in asked[0].lower()  # the task (or the prompt Florence makes of it)


def test_a_garbled_answer_is_a_clear_error_not_a_crash(florence):
    engine = load_ocr_engine(f"transformers:{florence}", device="cpu")
    _writes(engine.captioner, "EXIT<loc_100><loc_200>", [])
    with pytest.raises(OcrError, match="no readable text lines"):
        engine.read(Image.new("RGB", (100, 100)))


def test_the_real_generation_runs_end_to_end(florence):
    engine = load_ocr_engine(f"transformers:{florence}", device="cpu")
    engine.captioner.max_new_tokens = 8
    try:
        lines = engine.read(Image.new("RGB", (64, 48), (200, 10, 10)))  # random weights: any words, or none
    except OcrError as exc:
        assert "Florence" in str(exc) or "readable" in str(exc)
    else:
        assert all(0 <= line.box[0] <= line.box[2] <= 64 for line in lines)


def test_paligemma_reads_text_without_boxes(tmp_path):
    engine = load_ocr_engine(save_tiny_paligemma(str(tmp_path / "pali")), device="cpu")
    asked = []
    _writes(engine.captioner, "exit\nplatz", asked)
    lines = engine.read(Image.new("RGB", (300, 200)))
    assert [line.label for line in lines] == ["exit", "platz"]
    assert all(line.box == (0.0, 0.0, 300.0, 200.0) for line in lines)  # the whole picture: no box given
    assert asked[0].rstrip().endswith("ocr")


def test_qwen_json_boxes_are_scaled_from_what_the_model_saw(tmp_path):
    engine = load_ocr_engine(save_tiny_qwen2_vl(str(tmp_path / "qwen")), device="cpu")
    asked = []
    _writes(engine.captioner, '```json\n[{"bbox_2d": [14, 7, 42, 21], "text_content": "EXIT"}]\n```', asked)
    lines = engine.read(Image.new("RGB", (560, 280)))
    # The tiny processor sees 560 x 280 as 56 x 28 (a budget of 56 x 56 pixels, sides multiples of 28).
    assert lines[0].label == "EXIT"
    assert lines[0].box == pytest.approx((140.0, 70.0, 420.0, 210.0))
    assert CHAT_OCR in asked[0]


def test_captioners_that_cannot_read_text_say_so(tmp_path):
    folder = save_tiny_git(str(tmp_path / "git"))
    with pytest.raises(OcrError, match="does not read text"):
        load_ocr_engine(folder, device="cpu")
    assert load_captioner(folder, device="cpu").caption([Image.new("RGB", (32, 32))])  # still a captioner


def test_florence_grounds_a_phrase_and_detects_each_label(florence):
    from retrieval.locate.vlm import FLORENCE_GROUNDING, VlmLocator

    locator = VlmLocator(load_captioner(florence, device="cpu"))
    asked = []
    _writes(locator.captioner, "</s><s>a red car<loc_100><loc_200><loc_500><loc_700></s>", asked)
    (car,), = locator.locate([Image.new("RGB", (1000, 500))], "a red car")
    assert car.label == "a red car" and car.box == pytest.approx((100.5, 100.25, 500.5, 350.25))
    assert car.method == "vlm:florence2" and car.score is None
    assert FLORENCE_GROUNDING in asked[0] or "a red car" in asked[0]
    both, = locator.detect([Image.new("RGB", (1000, 500))], ["car", "tree"])
    assert [r.label for r in both] == ["car", "tree"]  # one grounding per label, named after it


def test_paligemma_detects_labels_in_one_request(tmp_path):
    from retrieval.locate.vlm import VlmLocator

    locator = VlmLocator(load_captioner(save_tiny_paligemma(str(tmp_path / "pali")), device="cpu"))
    asked = []
    _writes(locator.captioner, "<loc0000><loc0000><loc0512><loc0512> cat ; <loc0512><loc0512><loc1023><loc1023> dog",
            asked)
    cat, dog = locator.detect([Image.new("RGB", (1024, 1024))], ["cat", "dog"])[0]
    assert (cat.label, dog.label) == ("cat", "dog") and cat.box == pytest.approx((0, 0, 512, 512))
    assert asked[0].rstrip().endswith("detect cat ; dog")


def test_qwen_grounding_in_either_format(tmp_path):
    from retrieval.locate import LocateError
    from retrieval.locate.vlm import VlmLocator

    locator = VlmLocator(load_captioner(save_tiny_qwen2_vl(str(tmp_path / "qwen")), device="cpu"))
    _writes(locator.captioner, "<|object_ref_start|>the sign<|object_ref_end|><|box_start|>(100,100),(500,500)"
                               "<|box_end|>", [])
    (sign,), = locator.locate([Image.new("RGB", (200, 100))], "the sign")
    assert sign.label == "the sign" and sign.box == pytest.approx((20, 10, 100, 50))
    _writes(locator.captioner, "I cannot see one.", [])
    with pytest.raises(LocateError, match="no readable boxes"):
        locator.locate([Image.new("RGB", (200, 100))], "a unicorn")


def test_captioners_that_cannot_ground_say_so(tmp_path):
    from retrieval.locate import LocateError
    from retrieval.locate.vlm import VlmLocator

    with pytest.raises(LocateError, match="does not find regions"):
        VlmLocator(load_captioner(save_tiny_git(str(tmp_path / "git")), device="cpu"))
