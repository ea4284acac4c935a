"""A vocabulary sized for a model's training captions: open_clip's BPE tokens, renumbered.

A model trained from scratch on captions that use a few hundred of the tokenizer's 49,408
tokens has no use for the other rows of its token embedding: they are never trained,
yet every step computes their gradient and the optimiser updates them (for clipdex-small
they were 80 % of the parameters and a tenth of a step). Such a model keeps the BPE
tokenizer and renumbers its output: the tokens its captions use, in their original order,
become 2, 3, ...; every other token becomes UNKNOWN (1), padding stays 0. Keeping the
order keeps the end-of-text token the largest id, which is where open_clip pools the text
(``pool_type="argmax"``). The model folder stores the kept ids (``TOKEN_IDS_KEY`` in its
config file), so every later load tokenizes the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOKEN_IDS_KEY = "token_ids"
PAD, UNKNOWN = 0, 1
FIRST_ID = 2


def token_ids_of(tokenizer, captions: Sequence[str], batch: int = 4096) -> list[int]:
    """The BPE ids that ``captions`` use (padding left out), in increasing order."""
    import torch

    used = torch.zeros(0, dtype=torch.long)
    for start in range(0, len(captions), batch):
        used = torch.unique(torch.cat([used, tokenizer(list(captions[start:start + batch])).flatten()]))
    return [int(i) for i in used.tolist() if i != PAD]


def valid_token_ids(token_ids) -> bool:
    """Whether a model folder's kept ids can be what training wrote: increasing positive integers."""
    return (isinstance(token_ids, list) and len(token_ids) > 0
            and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in token_ids)
            and all(a < b for a, b in zip(token_ids, token_ids[1:])))


def compact_vocab_size(token_ids: Sequence[int]) -> int:
    return FIRST_ID + len(token_ids)


def renumbering(token_ids: Sequence[int], vocab_size: int):
    """The table from tokenizer ids to the compact vocabulary's: the kept ids to 2, 3, ...
    in order, padding to itself, every other id to UNKNOWN."""
    table = np.full(max(vocab_size, max(token_ids, default=0) + 1), UNKNOWN, np.int64)
    table[PAD] = PAD
    table[np.asarray(token_ids, dtype=np.int64)] = np.arange(FIRST_ID, compact_vocab_size(token_ids))
    return table


class CompactTokenizer:
    """open_clip's tokenizer, with its ids mapped onto a model's compact vocabulary."""

    def __init__(self, base, token_ids: Sequence[int]):
        import torch

        self.base = base
        self.token_ids = [int(i) for i in token_ids]
        self.context_length = getattr(base, "context_length", None)
        self._table = torch.from_numpy(renumbering(self.token_ids, _vocab_size(base)))

    def __call__(self, texts, context_length: int | None = None):
        return self._table[self.base(texts, context_length=context_length)]


def _vocab_size(tokenizer) -> int:
    return int(getattr(tokenizer, "vocab_size", 0) or len(getattr(tokenizer, "encoder", {})) or 49408)
