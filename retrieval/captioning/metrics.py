"""Caption quality against reference captions: corpus BLEU-4 and CIDEr-D.

Both tokenise by lower-cased words. BLEU-4: geometric mean of clipped 1-4-gram
precisions with the brevity penalty (Papineni et al. 2002). CIDEr-D: TF-IDF weighted
n-gram cosine similarity, n = 1..4, with the length penalty (sigma 6), clipped counts and
the x10 scale of the COCO evaluation code (Vedantam et al. 2015); document frequencies come
from the references being scored.
"""

from __future__ import annotations

import math
from collections import Counter

from retrieval.captioning.own_model import words_of


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def bleu4(candidates: list[str], references: list[list[str]]) -> float:
    matched, total = [0] * 4, [0] * 4
    length, ref_length = 0, 0
    for candidate, refs in zip(candidates, references):
        words = words_of(candidate)
        ref_words = [words_of(r) for r in refs]
        length += len(words)
        ref_length += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]  # closest length
        for n in range(1, 5):
            counts = _ngrams(words, n)
            most = Counter()
            for r in ref_words:
                most |= _ngrams(r, n)
            matched[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            total[n - 1] += max(0, len(words) - n + 1)
    if min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / 4
    brevity = 1.0 if length > ref_length else math.exp(1 - ref_length / max(length, 1))
    return brevity * math.exp(log_precision)


def cider_d(candidates: list[str], references: list[list[str]], sigma: float = 6.0) -> float:
    refs_words = [[words_of(r) for r in refs] for refs in references]
    documents = len(references)
    frequency = [Counter() for _ in range(4)]
    for refs in refs_words:
        for n in range(4):
            seen = set()
            for r in refs:
                seen |= set(_ngrams(r, n + 1))
            frequency[n].update(seen)

    def vector(words: list[str], n: int):
        counts = _ngrams(words, n + 1)
        weights = {g: c * math.log(max(1.0, documents) / max(1.0, frequency[n][g])) for g, c in counts.items()}
        return weights, math.sqrt(sum(w * w for w in weights.values()))

    total = 0.0
    for candidate, refs in zip(candidates, refs_words):
        words = words_of(candidate)
        score = 0.0
        for n in range(4):
            cand_vec, cand_norm = vector(words, n)
            for ref in refs:
                ref_vec, ref_norm = vector(ref, n)
                dot = sum(min(cand_vec[g], ref_vec[g]) * ref_vec[g] for g in cand_vec if g in ref_vec)
                if cand_norm and ref_norm:
                    penalty = math.exp(-((len(words) - len(ref)) ** 2) / (2 * sigma ** 2))
                    score += penalty * dot / (cand_norm * ref_norm) / len(refs)
        total += score / 4 * 10
    return total / max(1, len(candidates))
