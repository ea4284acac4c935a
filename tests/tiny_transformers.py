"""Tiny, randomly initialised transformers models of each class clipdex uses, saved with
their processors into a folder, as `save_pretrained` writes them: nothing is downloaded.
Tokenizers get a small vocabulary written here (BERT word pieces, CLIP byte-level BPE, a
SentencePiece model trained on a few sentences)."""

from __future__ import annotations

import json
import os

WORDS = ("a photo of the an and on in with red green blue circle square triangle dog cat car "
         "beach street city night two three large small left right picture image hello world").split()
SENTENCES = [f"a photo of a {a} {b}" for a in WORDS for b in WORDS[:12]]


def _bert_tokenizer(folder: str):
    from transformers import BertTokenizer

    os.makedirs(folder, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters, *[f"##{c}" for c in letters]]
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w") as handle:
        handle.write("\n".join(dict.fromkeys(vocab)) + "\n")
    return BertTokenizer(path)


def _clip_tokenizer(folder: str):
    from transformers import CLIPTokenizer

    os.makedirs(folder, exist_ok=True)
    printable = [chr(c) for c in range(33, 127)] + [chr(c) for c in range(161, 173)] + [chr(c) for c in range(174, 256)]
    symbols = printable + [chr(256 + i) for i in range(256 - len(printable))]  # GPT-2's byte-to-unicode map
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"])}
    with open(os.path.join(folder, "vocab.json"), "w") as handle:
        json.dump(vocab, handle)
    with open(os.path.join(folder, "merges.txt"), "w") as handle:
        handle.write("#version: 0.2\n")
    return CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"))


def _sentencepiece_model(folder: str) -> str:
    import sentencepiece

    os.makedirs(folder, exist_ok=True)
    prefix = os.path.join(folder, "spiece")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_prefix=prefix, vocab_size=48, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )
    return prefix + ".model"


def save_tiny_clip(folder: str) -> str:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = _clip_tokenizer(folder)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=len(tokenizer) - 2,
                         eos_token_id=len(tokenizer) - 1, pad_token_id=len(tokenizer) - 1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=24,
    )
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    return _save(CLIPModel, config, processor, folder)


def save_tiny_align(folder: str) -> str:
    from transformers import AlignConfig, AlignModel, AlignProcessor, EfficientNetImageProcessor

    tokenizer = _bert_tokenizer(folder)
    config = AlignConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=64),
        vision_config=dict(image_size=32, hidden_dim=64, width_coefficient=0.1, depth_coefficient=0.1,
                           initializer_range=0.5),  # the default 0.02 vanishes in so small a net
        projection_dim=32,  # ALIGN's image side has no projection: the EfficientNet's width, 32 here
    )
    processor = AlignProcessor(image_processor=EfficientNetImageProcessor(size={"height": 32, "width": 32},
                                                                          crop_size={"height": 32, "width": 32}),
                               tokenizer=tokenizer)
    return _save(AlignModel, config, processor, folder)


def save_tiny_siglip(folder: str) -> str:
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor, SiglipTokenizer

    tokenizer = SiglipTokenizer(_sentencepiece_model(folder), model_max_length=16)
    config = SiglipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
    )
    processor = SiglipProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32}),
                                tokenizer=tokenizer)
    return _save(SiglipModel, config, processor, folder)


def _save(model_class, config, processor, folder: str) -> str:
    """Build the model from a fixed seed and save it with its processor. The seed is set
    before the model is made (transformers initialises weights in the constructor), in a
    forked RNG: the same weights whichever tests ran first, and no change to theirs."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = model_class(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


BUILDERS = {"clip": save_tiny_clip, "align": save_tiny_align, "siglip": save_tiny_siglip}


def save_tiny_vilt(folder: str) -> str:
    from transformers import ViltConfig, ViltForImageAndTextRetrieval, ViltImageProcessor, ViltProcessor

    tokenizer = _bert_tokenizer(folder)
    config = ViltConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, image_size=32, patch_size=8, max_position_embeddings=40)
    processor = ViltProcessor(image_processor=ViltImageProcessor(size={"shortest_edge": 32}, size_divisor=8),
                              tokenizer=tokenizer)
    return _save(ViltForImageAndTextRetrieval, config, processor, folder)


def save_tiny_blip_itm(folder: str) -> str:
    from transformers import BlipConfig, BlipForImageTextRetrieval, BlipImageProcessor, BlipProcessor

    tokenizer = _bert_tokenizer(folder)
    config = BlipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=40, encoder_hidden_size=32),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16, image_text_hidden_size=16,
    )
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    return _save(BlipForImageTextRetrieval, config, processor, folder)


RERANKERS = {"vilt": save_tiny_vilt, "blip": save_tiny_blip_itm}
