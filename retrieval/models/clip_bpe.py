"""CLIP's text tokenizer without torch: what a search on ONNX Runtime tokenizes its query with.

open_clip's tokenizer (byte-level BPE over lower-cased, ftfy-cleaned text; start and end
tokens; zero padding) returns torch tensors, so importing it imports torch: seconds for one
query. This one reads the same merge list (the file open_clip ships, found without
importing the package) and returns numpy ids. `onnx_light.py` checks it against the
model's own tokenizer before an export may use it.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import os
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from retrieval.models.compact_vocab import renumbering

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2  # the merges CLIP's vocabulary keeps
START, END = "<start_of_text>", "<end_of_text>"
WORD_END = "</w>"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # ASCII controls ftfy removes
# Contractions, letter runs, single digits, other symbol runs (case-insensitive, as CLIP's).
PATTERN = START + "|" + END + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def vocab_path() -> str:
    """open_clip's merge list, located without importing open_clip (which imports torch)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed: its BPE vocabulary is needed to tokenize")
    return os.path.join(next(iter(spec.submodule_search_locations)), VOCAB_FILE)


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Each byte as a printable character: the printable Latin-1 ones as themselves, the
    rest (controls, space) moved past 255, so that BPE never sees whitespace."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return dict(zip(printable + others, [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]))


@lru_cache(maxsize=1)
def _tables(path: str) -> tuple[dict[str, int], dict[str, int]]:
    """(token -> id, "first second" -> merge rank). Pairs are kept as the file's own lines
    (a space never occurs inside a symbol): no tuple per merge, a third of the load time."""
    with gzip.open(path) as handle:
        merges = handle.read().decode("utf-8").split("\n")[1:MERGES + 1]
    singles = list(byte_symbols().values())
    vocab = [*singles, *(s + WORD_END for s in singles), *(m.replace(" ", "") for m in merges), START, END]
    return dict(zip(vocab, range(len(vocab)))), dict(zip(merges, range(len(merges))))


def clean(text: str) -> str:
    """open_clip's "lower" cleaning: ftfy, HTML entities twice, whitespace runs to one space,
    lower case. ftfy (40 ms to import) changes nothing in ASCII text without control
    characters or entities but line ends, which become spaces here anyway: such a query
    skips it."""
    if not (text.isascii() and "&" not in text and not _CONTROL.search(text)):
        import ftfy

        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


class ClipBpeTokenizer:
    """Texts -> (N, context_length) int64 ids, as open_clip's SimpleTokenizer gives them;
    with ``token_ids``, renumbered onto a compact vocabulary (compact_vocab.py)."""

    def __init__(self, context_length: int = 77, token_ids: Sequence[int] | None = None, path: str | None = None):
        self.context_length = context_length
        self.token_ids = list(token_ids) if token_ids is not None else None
        self.path = path
        self.ranks: dict[str, int] | None = None  # read on first use (_read)
        self._cache: dict[str, list[int]] = {}

    def _read(self) -> None:
        """Reads the merge list (150 ms): on first use, not when built, so that a cold search
        tokenizes its query while ONNX Runtime opens the text tower (api/cli/search.py)."""
        if self.ranks is not None:
            return
        import regex

        encoder, ranks = _tables(self.path or vocab_path())
        self.encoder, self.start, self.end = encoder, encoder[START], encoder[END]
        self.pattern = regex.compile(PATTERN, regex.IGNORECASE)
        self.symbols = byte_symbols()
        self._table = renumbering(self.token_ids, len(encoder)) if self.token_ids is not None else None
        self.ranks = ranks  # last: another thread that sees it sees the rest

    def _word(self, word: str) -> list[int]:
        """The ids of one pre-token: merge the lowest-ranked adjacent pair until none is known."""
        if word not in self._cache:
            parts = [*word[:-1], word[-1] + WORD_END]
            while len(parts) > 1:
                rank, i = min((self.ranks.get(f"{a} {b}", MERGES), i) for i, (a, b) in enumerate(zip(parts, parts[1:])))
                if rank == MERGES:
                    break
                first, second = parts[i], parts[i + 1]
                merged, i = [], 0
                while i < len(parts):
                    if i + 1 < len(parts) and parts[i] == first and parts[i + 1] == second:
                        merged.append(first + second)
                        i += 2
                    else:
                        merged.append(parts[i])
                        i += 1
                parts = merged
            self._cache[word] = [self.encoder[p] for p in parts]
        return self._cache[word]

    def encode(self, text: str) -> list[int]:
        self._read()
        ids: list[int] = []
        for token in self.pattern.findall(clean(text)):
            if token in (START, END):
                ids.append(self.encoder[token])
            else:
                ids.extend(self._word("".join(self.symbols[b] for b in token.encode("utf-8"))))
        return ids

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> np.ndarray:
        self._read()
        texts = [texts] if isinstance(texts, str) else list(texts)
        length = context_length or self.context_length
        out = np.zeros((len(texts), length), np.int64)
        for row, text in enumerate(texts):
            ids = [self.start, *self.encode(text), self.end]
            if len(ids) > length:
                ids = ids[:length - 1] + [self.end]
            out[row, :len(ids)] = ids
        return self._table[out] if self._table is not None else out

