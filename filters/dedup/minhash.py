"""MinHash signatures and LSH band keys, vectorised with numpy over a batch of documents.

Same scheme as datatrove's MinHash (word n-gram shingles, `bands` x `rows` MinHash values, one bucket
key per band), computed differently for speed. datatrove tokenises with spaCy and evaluates
`bands * rows` hash permutations per shingle (~280 docs/s measured here); datasketch does the same
permutations per document (~3,000 docs/s here on an idle machine). Here:
- words are hashed once with xxhash (a small cache avoids rehashing frequent words) and word n-gram
  shingles are combined from word hashes with integer arithmetic;
- the signature is one-permutation MinHash (Li, Owen & Zhang 2012): each shingle is hashed once; its
  hash picks one of `bands * rows` bins and the bin keeps its minimum, for a whole batch at once
  (`np.minimum.at`). Empty bins of short documents are filled by rotation densification (Shrivastava &
  Li 2014): an empty bin takes the value of the next non-empty bin to its right plus a per-distance
  offset, which keeps P(equal bin) = Jaccard similarity. Cost: O(shingles), not O(shingles * hashes).
A band key is a 64-bit mix of the band's `rows` values and the band's index, so each band's bucket
is one integer on disk (8 bytes instead of `rows * 4`).

Probability that two documents with Jaccard similarity s share at least one band: 1 - (1 - s^r)^b;
for the defaults (14 bands of 8) that is 0.92 at s=0.8 and 0.05 at s=0.5.
"""

from __future__ import annotations

import numpy as np
import xxhash

from filters.dedup.normalize import words

EMPTY = np.uint64(1 << 40)  # above every 32-bit value: marks a bin no shingle fell into
DISTANCE_OFFSET = np.uint64(0x9E3779B1)  # added per bin of rotation, so borrowed values differ by distance


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads combined values over all 64 bits (uint64 wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _WordHashes(dict):
    """word -> xxhash64, computed on first use."""

    def __missing__(self, word: str) -> int:
        value = self[word] = xxhash.xxh3_64_intdigest(word)
        return value


class MinHasher:
    """Signatures (`bands * rows` uint32 per document) and band keys (`bands` uint64 per document)."""

    def __init__(self, bands: int = 14, rows: int = 8, ngram: int = 5, seed: int = 1):
        self.bands, self.rows, self.ngram, self.seed = bands, rows, ngram, seed
        self.num_bins = bands * rows
        rng = np.random.default_rng(seed)
        self.shingle_mult = rng.integers(1, 1 << 63, size=ngram, dtype=np.uint64) | np.uint64(1)
        self.row_mult = rng.integers(1, 1 << 63, size=rows, dtype=np.uint64) | np.uint64(1)
        self.band_salt = rng.integers(0, 1 << 63, size=bands, dtype=np.uint64)
        self.seed_mix = rng.integers(0, 1 << 63, dtype=np.uint64)
        self._word_hashes = _WordHashes()

    def shingles(self, text: str) -> np.ndarray:
        """64-bit hashes of the word n-grams of a text (a text shorter than n words is one shingle)."""
        tokens = words(text)
        if not tokens:
            return np.empty(0, dtype=np.uint64)
        if len(self._word_hashes) > 1_000_000:  # a cache, not an index of the corpus: stays bounded
            self._word_hashes.clear()
        h = np.fromiter(map(self._word_hashes.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
        n = min(self.ngram, len(h))
        count = len(h) - n + 1
        acc = np.zeros(count, dtype=np.uint64)
        for k in range(n):
            acc += h[k : k + count] * self.shingle_mult[k]
        return mix64(acc ^ self.seed_mix)

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures [docs, bands*rows] uint32, has_words [docs] bool) for a batch of texts."""
        shingle_sets = [self.shingles(t) for t in texts]
        lengths = np.array([len(s) for s in shingle_sets], dtype=np.int64)
        has_words = lengths > 0
        bins = np.full((len(texts), self.num_bins), EMPTY, dtype=np.uint64)
        if has_words.any():
            flat = np.concatenate([s for s in shingle_sets if len(s)])
            doc = np.repeat(np.arange(len(texts)), lengths)
            low = flat & np.uint64(0xFFFFFFFF)
            bin_of = ((low * np.uint64(self.num_bins)) >> np.uint64(32)).astype(np.int64)
            np.minimum.at(bins.reshape(-1), doc * self.num_bins + bin_of, flat >> np.uint64(32))
        return self._densify(bins[has_words], bins, has_words), has_words

    def _densify(self, filled: np.ndarray, out: np.ndarray, has_words: np.ndarray) -> np.ndarray:
        """Empty bins borrow from the next non-empty bin to the right (circular), offset by distance."""
        k = self.num_bins
        doubled = np.concatenate([filled, filled], axis=1)
        positions = np.where(doubled != EMPTY, np.arange(2 * k), 2 * k)
        next_full = np.minimum.accumulate(positions[:, ::-1], axis=1)[:, ::-1][:, :k]
        distance = (next_full - np.arange(k)).astype(np.uint64)
        borrowed = np.take_along_axis(filled, next_full % k, axis=1) + distance * DISTANCE_OFFSET
        sigs = np.full(out.shape, 0xFFFFFFFF, dtype=np.uint32)
        sigs[has_words] = (borrowed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        return sigs

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """One uint64 key per (document, band): equal keys = the band's `rows` values are all equal."""
        banded = sigs.reshape(len(sigs), self.bands, self.rows).astype(np.uint64)
        combined = (banded * self.row_mult[None, None, :]).sum(axis=2, dtype=np.uint64)
        return mix64(combined + self.band_salt[None, :])


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.mean(sig_a == sig_b))
