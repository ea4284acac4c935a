"""clipdex's own small captioner: a text decoder conditioned on a frozen dual encoder.

The image goes through the dual encoder's image tower once. Its unit embedding becomes a
few prefix vectors, and (for ViT towers) its patch tokens become more: the decoder
cross-attends to both. The patch tokens are read where the last block starts, as LLaVA reads
CLIP's: contrastive training shapes only the pooled output of the last block, so its patch
tokens say less about each object (captioners made before keep reading the tower's output).
Only the decoder is trained, so the features of a training set are computed once and
training is cheap enough for a laptop CPU.

Words, not sub-words: the vocabulary is the words of the training captions, so a trained
captioner can only say what its data said (which is the point on one's own data).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
_WORD = re.compile(r"[\w'-]+|[^\w\s]")

CONFIG_FILE = "captioner.json"  # what marks a folder as clipdex's own captioner
WEIGHTS_FILE = "captioner.pt"


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class WordVocab:
    """Words <-> ids. Id 0 pads, 1 starts, 2 ends, 3 is any unknown word."""

    def __init__(self, words: list[str]):
        self.words = [PAD, BOS, EOS, UNK] + [w for w in words if w not in (PAD, BOS, EOS, UNK)]
        self.ids = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, captions: list[str], min_count: int = 1) -> "WordVocab":
        counts: dict[str, int] = {}
        for caption in captions:
            for word in words_of(caption):
                counts[word] = counts.get(word, 0) + 1
        return cls(sorted(w for w, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int) -> list[int]:
        """<bos> words <eos>, cut to ``max_len`` ids (the end mark kept)."""
        ids = [self.ids.get(w, 3) for w in words_of(text)][: max_len - 2]
        return [1, *ids, 2]

    def decode(self, ids) -> str:
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == 2:
                break
            if i in (0, 1):
                continue
            word = self.words[i]
            if out and len(word) == 1 and not word.isalnum():  # punctuation sticks to the word before it
                out[-1] += word
            else:
                out.append(word)
        return " ".join(out)


@dataclass
class DecoderConfig:
    vocab_size: int
    embed_dim: int  # the dual encoder's vector size
    token_dim: int | None  # width of the image tower's patch tokens (None: embedding only)
    num_tokens: int = 0  # how many patch tokens the tower gives
    width: int = 128
    layers: int = 2
    heads: int = 4
    prefix: int = 4  # vectors made from the embedding
    tokens_from: str = "last"  # "penultimate": the patch tokens entering the last block (see above)
    max_len: int = 32
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def build_decoder(config: DecoderConfig):
    """The decoder module (torch imported only when a captioner is built)."""
    import torch
    from torch import nn

    class CaptionDecoder(nn.Module):
        def __init__(self, c: DecoderConfig):
            super().__init__()
            self.config = c
            self.prefix = nn.Sequential(nn.Linear(c.embed_dim, c.width * c.prefix), nn.Tanh())
            memory_len = c.prefix + c.num_tokens
            self.memory_position = nn.Parameter(torch.zeros(memory_len, c.width))
            self.tokens_in = nn.Linear(c.token_dim, c.width) if c.token_dim else None
            self.word = nn.Embedding(c.vocab_size, c.width, padding_idx=0)
            self.position = nn.Parameter(torch.zeros(c.max_len, c.width))
            layer = nn.TransformerDecoderLayer(c.width, c.heads, 4 * c.width, c.dropout, batch_first=True,
                                               norm_first=True)
            self.decoder = nn.TransformerDecoder(layer, c.layers)
            self.norm = nn.LayerNorm(c.width)
            self.out = nn.Linear(c.width, c.vocab_size)
            nn.init.normal_(self.memory_position, std=0.02)
            nn.init.normal_(self.position, std=0.02)

        def memory(self, embedding, tokens=None):
            c = self.config
            parts = [self.prefix(embedding).view(len(embedding), c.prefix, c.width)]
            if self.tokens_in is not None and tokens is not None:
                parts.append(self.tokens_in(tokens))
            memory = torch.cat(parts, dim=1)
            return memory + self.memory_position[: memory.shape[1]]

        def forward(self, memory, input_ids):
            length = input_ids.shape[1]
            x = self.word(input_ids) + self.position[:length]
            causal = torch.triu(torch.ones((length, length), dtype=torch.bool, device=x.device), diagonal=1)
            x = self.decoder(x, memory, tgt_mask=causal, tgt_key_padding_mask=input_ids == 0,
                             tgt_is_causal=True)
            return self.out(self.norm(x))

        @torch.inference_mode()
        def generate(self, memory, max_len: int | None = None, start=None):
            """Greedy decoding; ``start`` (ids after <bos>) forces how captions begin."""
            max_len = min(max_len or self.config.max_len, self.config.max_len)
            ids = torch.ones((len(memory), 1), dtype=torch.long, device=memory.device)
            if start:
                ids = torch.cat([ids, torch.tensor([start] * len(memory), device=memory.device)], dim=1)
            done = torch.zeros(len(memory), dtype=torch.bool, device=memory.device)
            while ids.shape[1] < max_len and not bool(done.all()):
                logits = self.forward(memory, ids)[:, -1]
                logits[:, :2] = float("-inf")  # never pad or start again
                nxt = logits.argmax(dim=-1)
                nxt = torch.where(done, torch.zeros_like(nxt), nxt)
                ids = torch.cat([ids, nxt[:, None]], dim=1)
                done |= nxt == 2
            return ids[:, 1:]

    return CaptionDecoder(config)


TOKEN_SOURCES = ("last", "penultimate")


def token_source(model, wanted: str) -> str:
    """The patch tokens ``image_features`` reads for ``wanted`` on this model: "penultimate"
    only where the image tower has blocks and a patch grid, else its output ("last")."""
    if wanted not in TOKEN_SOURCES:
        raise ValueError(f"unknown token source {wanted!r}: one of {', '.join(TOKEN_SOURCES)}")
    visual = getattr(model, "visual", None)
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    return "penultimate" if wanted == "penultimate" and blocks and hasattr(visual, "grid_size") else "last"


def image_features(model, pixels, tokens_from: str = "last"):
    """(unit embedding, patch tokens or None) of preprocessed images from an open_clip
    model's image tower; towers that do not give tokens (and non-open_clip models) give
    the embedding only. ``tokens_from``: the tower's output tokens ("last"), or the patch
    tokens entering its last block, layer-normalised ("penultimate"), where it has blocks."""
    import torch

    visual = getattr(model, "visual", None)
    if token_source(model, tokens_from) == "penultimate":
        embedding, tokens = _with_penultimate_tokens(visual, pixels)
    elif visual is not None and hasattr(visual, "output_tokens"):
        before = visual.output_tokens
        visual.output_tokens = True
        try:
            embedding, tokens = visual(pixels)
        finally:
            visual.output_tokens = before
    else:
        embedding, tokens = model.encode_image(pixels), None
    embedding = embedding.float()
    embedding = embedding / embedding.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    if tokens is not None:
        tokens = tokens.float()
    return embedding, tokens if isinstance(tokens, torch.Tensor) else None


def _with_penultimate_tokens(visual, pixels):
    """One pass of the tower: its pooled output, and the patch tokens that enter its last block."""
    import torch.nn.functional as F

    entering = []
    hook = visual.transformer.resblocks[-1].register_forward_pre_hook(lambda _block, args: entering.append(args[0]))
    before = getattr(visual, "output_tokens", False)
    visual.output_tokens = False
    try:
        pooled = visual(pixels)
    finally:
        visual.output_tokens = before
        hook.remove()
    x = entering[0]
    if not getattr(visual.transformer, "batch_first", True):
        x = x.transpose(0, 1)
    patches = visual.grid_size[0] * visual.grid_size[1]
    x = x[:, -patches:].float()  # the class token (and any registers) come first
    return pooled, F.layer_norm(x, x.shape[-1:])


def shape_of_features(model, image_size: int, tokens_from: str = "last") -> tuple[int, int | None, int]:
    """(embedding dim, token width or None, token count) of a model's image features."""
    import torch

    with torch.inference_mode():
        embedding, tokens = image_features(model, torch.zeros(1, 3, image_size, image_size), tokens_from)
    if tokens is None:
        return embedding.shape[1], None, 0
    return embedding.shape[1], tokens.shape[2], tokens.shape[1]
