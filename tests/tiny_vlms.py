"""Tiny, randomly initialised generative VLMs of each family clipdex captions with, saved
with their processors into a folder as `save_pretrained` writes them: nothing is
downloaded. Their captions are noise; what the tests check is that each family loads,
is prompted the way it expects, batches and generates."""

from __future__ import annotations

from tiny_transformers import _bert_tokenizer, _save

SMALL_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
SMALL_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                    image_size=32, patch_size=8)


def _save_tiny_blip_of(model_class, folder: str) -> str:
    from transformers import BlipConfig, BlipImageProcessor, BlipProcessor

    tokenizer = _bert_tokenizer(folder)
    config = BlipConfig(
        text_config=dict(vocab_size=len(tokenizer), max_position_embeddings=40, encoder_hidden_size=32,
                         bos_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                         pad_token_id=tokenizer.pad_token_id, **SMALL_TEXT),
        vision_config=SMALL_VISION, projection_dim=16, image_text_hidden_size=16,
    )
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    return _save(model_class, config, processor, folder)


def save_tiny_blip(folder: str) -> str:
    from transformers import BlipForConditionalGeneration

    return _save_tiny_blip_of(BlipForConditionalGeneration, folder)


def save_tiny_blip_vqa(folder: str) -> str:
    from transformers import BlipForQuestionAnswering

    return _save_tiny_blip_of(BlipForQuestionAnswering, folder)


def save_tiny_git(folder: str) -> str:
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    tokenizer = _bert_tokenizer(folder)
    config = GitConfig(vision_config=dict(SMALL_VISION), vocab_size=len(tokenizer), max_position_embeddings=64,
                       bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                       pad_token_id=tokenizer.pad_token_id, **SMALL_TEXT)
    processor = GitProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                crop_size={"height": 32, "width": 32}),
                             tokenizer=tokenizer)
    return _save(GitForCausalLM, config, processor, folder)


CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
                 "{% if c['type'] == 'image' %}{IMAGE}{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _byte_tokenizer(special: list[str], **kwargs):
    """A byte-level BPE tokenizer with no merges (every byte a token) and ``special`` tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: i for i, symbol in enumerate(sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(special)
    return PreTrainedTokenizerFast(tokenizer_object=core, **kwargs)


def save_tiny_paligemma(folder: str) -> str:
    from transformers import (
        GemmaTokenizer,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipImageProcessor,
    )

    pieces = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<image>", "\u2581",
              *[chr(c) for c in range(ord("a"), ord("z") + 1)], *[f"<0x{b:02X}>" for b in range(256)]]
    tokenizer = GemmaTokenizer(vocab={p: i for i, p in enumerate(pieces)}, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    config = PaliGemmaConfig(
        text_config=dict(model_type="gemma", vocab_size=len(tokenizer), num_key_value_heads=1, head_dim=16,
                         **SMALL_TEXT),
        vision_config=dict(model_type="siglip_vision_model", projection_dim=32, **SMALL_VISION),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projection_dim=32, hidden_size=32,
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    processor = PaliGemmaProcessor(image_processor=SiglipImageProcessor(size={"height": 32, "width": 32},
                                                                        image_seq_length=16),
                                   tokenizer=tokenizer)
    return _save(PaliGemmaForConditionalGeneration, config, processor, folder)


def save_tiny_qwen2_vl(folder: str) -> str:
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
               "<|video_pad|>"]
    tokenizer = _byte_tokenizer(special, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tokenizer), num_key_value_heads=1, max_position_embeddings=512,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 2, 4]}, bos_token_id=ids("<|endoftext|>"),
                         eos_token_id=ids("<|im_end|>"), **SMALL_TEXT),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, num_heads=2, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, in_chans=3),
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"), bos_token_id=ids("<|endoftext|>"),
    )
    template = CHAT_TEMPLATE.replace("{IMAGE}", "<|vision_start|><|image_pad|><|vision_end|>")
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=56 * 56),
                                 video_processor=Qwen2VLVideoProcessor(), tokenizer=tokenizer, chat_template=template)
    return _save(Qwen2VLForConditionalGeneration, config, processor, folder)


def save_tiny_florence2(folder: str) -> str:
    from transformers import CLIPImageProcessor, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor

    tokenizer = _byte_tokenizer(["<s>", "<pad>", "</s>", "<unk>", "<image>"], bos_token="<s>", eos_token="</s>",
                                pad_token="<pad>", unk_token="<unk>", extra_special_tokens={"image_token": "<image>"})
    vision = dict(depths=[1, 1], patch_size=[7, 3], patch_stride=[4, 2], patch_padding=[3, 1],
                  patch_prenorm=[False, True], embed_dim=[16, 32], num_heads=[1, 2], num_groups=[1, 2],
                  window_size=2, projection_dim=32, max_position_embeddings=16)
    text = dict(vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id, decoder_start_token_id=tokenizer.eos_token_id)
    config = Florence2Config(text_config=text, vision_config=vision,
                             image_token_id=tokenizer.convert_tokens_to_ids("<image>"))
    processor = Florence2Processor(image_processor=CLIPImageProcessor(size={"height": 32, "width": 32},
                                                                      crop_size={"height": 32, "width": 32},
                                                                      do_center_crop=False, image_seq_length=17),
                                   tokenizer=tokenizer, num_additional_image_tokens=0)
    return _save(Florence2ForConditionalGeneration, config, processor, folder)


def save_tiny_smolvlm(folder: str) -> str:
    from transformers import (
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessor,
        SmolVLMProcessor,
        SmolVLMVideoProcessor,
    )
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

    special = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<image>", "<fake_token_around_image>",
               "<global-img>", "<video>"]
    tokenizer = _byte_tokenizer(special, eos_token="<end_of_utterance>", pad_token="<|endoftext|>",
                                bos_token="<|im_start|>")
    ids = tokenizer.convert_tokens_to_ids
    config = SmolVLMConfig(
        text_config=dict(model_type="llama", vocab_size=len(tokenizer), num_key_value_heads=1,
                         max_position_embeddings=256, pad_token_id=ids("<|endoftext|>"),
                         eos_token_id=ids("<end_of_utterance>"), bos_token_id=ids("<|im_start|>"), **SMALL_TEXT),
        vision_config=dict(SMALL_VISION), scale_factor=2, image_token_id=ids("<image>"),
    )
    image_processor = SmolVLMImageProcessor(do_image_splitting=False, size={"longest_edge": 32},
                                            max_image_size={"longest_edge": 32})
    processor = SmolVLMProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                 video_processor=SmolVLMVideoProcessor(), image_seq_len=4,
                                 chat_template=DEFAULT_CHAT_TEMPLATE)
    return _save(SmolVLMForConditionalGeneration, config, processor, folder)


def save_tiny_mllama(folder: str) -> str:
    from transformers import MllamaConfig, MllamaForConditionalGeneration, MllamaImageProcessor, MllamaProcessor

    special = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|image|>", "<|finetune_right_pad_id|>",
               "<|python_tag|>", "<|start_header_id|>", "<|end_header_id|>"]
    tokenizer = _byte_tokenizer(special, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                pad_token="<|finetune_right_pad_id|>")
    ids = tokenizer.convert_tokens_to_ids
    config = MllamaConfig(
        text_config=dict(vocab_size=len(tokenizer), num_key_value_heads=1, cross_attention_layers=[1],
                         bos_token_id=ids("<|begin_of_text|>"), eos_token_id=ids("<|eot_id|>"),
                         pad_token_id=ids("<|finetune_right_pad_id|>"), max_position_embeddings=256,
                         rope_scaling={"rope_type": "default"}, **SMALL_TEXT),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_global_layers=1,
                           attention_heads=2, image_size=32, patch_size=8, max_num_tiles=1,
                           intermediate_layers_indices=[0], vision_output_dim=64,
                           supported_aspect_ratios=[[1, 1]]),
        image_token_index=ids("<|image|>"),
    )
    template = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                "{% for c in m['content'] %}{% if c['type'] == 'image' %}<|image|>{% else %}{{ c['text'] }}{% endif %}"
                "{% endfor %}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
                "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    processor = MllamaProcessor(image_processor=MllamaImageProcessor(size={"height": 32, "width": 32}, max_image_tiles=1),
                                tokenizer=tokenizer, chat_template=template)
    return _save(MllamaForConditionalGeneration, config, processor, folder)


# Every family the transformers captioner prompts its own way; Qwen2.5-VL takes the
# Qwen2-VL path (same processor and chat template).
CAPTIONERS = {
    "blip": save_tiny_blip, "blip-vqa": save_tiny_blip_vqa, "git": save_tiny_git, "git-vqa": save_tiny_git,
    "florence2": save_tiny_florence2,
    "paligemma": save_tiny_paligemma, "qwen2-vl": save_tiny_qwen2_vl, "smolvlm": save_tiny_smolvlm,
    "mllama": save_tiny_mllama,
}
