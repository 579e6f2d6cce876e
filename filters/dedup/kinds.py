"""What a dedup run compares: each kind turns a record into key entries (key, aux) and says how equal
keys are resolved. Modes:

- `cluster`: records sharing a key are duplicates; clusters (over all cluster kinds) keep one record.
- `near`: entries sharing a key are candidates, confirmed by a distance on `aux` (pHash Hamming).
- `frequency`: keys seen more than `max_count` times are removed everywhere (OBELICS image URLs).
- `paragraph`: a paragraph seen before (earlier in the record or in another record) is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from curate.filters.dedup.image_keys import open_image, perceptual_hash, pixel_hash
from curate.filters.dedup.minhash import MinHasher, mix64
from curate.filters.dedup.normalize import hash64, paragraphs, text_hash
from datatrove.data import Document

from curate.errors import ImageError

Entries = list[tuple[int, int]]  # (key, aux) of one record


class DecodedImages:
    """A record's images decoded at most once, shared by the kinds of one keys pass."""

    def __init__(self, doc: Document):
        self.doc = doc
        self._decoded: dict[int, object] = {}
        self.problems: list[str] = []

    def get(self, i: int):
        if i not in self._decoded:
            media = self.doc.media[i]
            image = None
            if media.media_bytes:
                try:
                    image = open_image(media.media_bytes)
                except ImageError as exc:  # a broken image has no key; the record is kept and noted
                    self.problems.append(f"image {i} ({media.url or media.id}) does not decode: {exc}")
            self._decoded[i] = image
        return self._decoded[i]


class DedupKind:
    name: str = ""
    reason: str = ""
    mode: str = "cluster"
    batched: bool = False  # True: keys come from `entries_batch` on a batch of records (text only)

    def entries(self, doc: Document, images: DecodedImages) -> Entries:
        raise NotImplementedError

    def entries_batch(self, docs: list[Document], images: list[DecodedImages]) -> list[Entries]:
        return [self.entries(d, i) for d, i in zip(docs, images, strict=True)]


@dataclass
class ExactText(DedupKind):
    """Same text after normalisation (case, punctuation, spacing, Unicode composition)."""

    name: str = "exact_text"
    reason: str = "duplicate_text"

    def entries(self, doc, images):
        key = text_hash(doc.text)
        return [] if key is None else [(key, 0)]


@dataclass
class ExactImage(DedupKind):
    """Same decoded pixels (all of the record's images, in order), whatever the file format."""

    name: str = "exact_image"
    reason: str = "duplicate_image"

    def entries(self, doc, images):
        if not doc.media:
            return []
        hashes = [images.get(i) for i in range(len(doc.media))]
        if any(h is None for h in hashes):
            return []
        return [(hash64(b"".join(pixel_hash(h).to_bytes(8, "little") for h in hashes)), 0)]


@dataclass
class MinHashText(DedupKind):
    """Near-duplicate text: MinHash LSH, one entry per band (see filters/dedup/minhash.py)."""

    bands: int = 14
    rows: int = 8
    ngram: int = 5
    seed: int = 1
    name: str = "minhash_text"
    reason: str = "near_duplicate_text"
    batched: bool = True

    def __post_init__(self):
        self._hasher = None

    @property
    def hasher(self) -> MinHasher:
        if self._hasher is None:
            self._hasher = MinHasher(self.bands, self.rows, self.ngram, self.seed)
        return self._hasher

    def entries_batch(self, docs, images):
        sigs, has_words = self.hasher.signatures([d.text for d in docs])
        keys = self.hasher.band_keys(sigs)
        return [[(int(k), 0) for k in row] if ok else [] for row, ok in zip(keys, has_words, strict=True)]


@dataclass
class NearImage(DedupKind):
    """Near-duplicate single-image records: pHash within `threshold` bits (out of 64).

    Pigeonhole index: the hash is cut into `threshold + 1` chunks; two hashes within `threshold` bits
    agree on at least one whole chunk, so sharing a chunk (the key) finds every candidate, and the
    full Hamming distance (aux) confirms it. Records with several images (web documents) are left to
    the exact and URL kinds: dropping a whole document for one shared picture would lose its text.
    """

    threshold: int = 6
    name: str = "near_image"
    reason: str = "near_duplicate_image"
    mode: str = "near"

    def chunks(self) -> list[tuple[int, int]]:
        """(shift, width) of each chunk of the 64-bit hash."""
        count = self.threshold + 1
        edges = np.linspace(0, 64, count + 1).astype(int)
        return [(int(lo), int(hi - lo)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]

    def entries(self, doc, images):
        if len(doc.media) != 1 or images.get(0) is None:
            return []
        phash = perceptual_hash(images.get(0))
        chunks = [
            (chunk << 48) | ((phash >> shift) & ((1 << width) - 1))
            for chunk, (shift, width) in enumerate(self.chunks())
        ]
        return [(int(key), phash) for key in mix64(np.array(chunks, dtype=np.uint64))]


@dataclass
class ImageUrlFrequency(DedupKind):
    """OBELICS: an image URL seen more than `max_count` times (logos, icons, banners) is removed."""

    max_count: int = 10
    name: str = "image_url_frequency"
    reason: str = "frequent_image_url"
    mode: str = "frequency"

    def entries(self, doc, images):
        return [(hash64(m.url), i) for i, m in enumerate(doc.media) if m.url]


def paragraph_slots(doc: Document) -> list[tuple[int, str]]:
    """(text block index, paragraph) of a record, in order; blocks are `metadata["texts"]` entries
    (web documents) or the record's text. Key and filter stages both enumerate with this."""
    texts = doc.metadata.get("texts")
    blocks = texts if texts is not None else [doc.text]
    return [(b, p) for b, block in enumerate(blocks) if block for p in paragraphs(block)]


@dataclass
class Paragraphs(DedupKind):
    """OBELICS paragraph dedup: a paragraph already seen (in this record or an earlier one) is removed."""

    min_words: int = 1
    name: str = "paragraph"
    reason: str = "duplicate_paragraph"
    mode: str = "paragraph"

    def entries(self, doc, images):
        out = []
        for position, (_, paragraph) in enumerate(paragraph_slots(doc)):
            key = text_hash(paragraph)
            if key is not None and len(paragraph.split()) >= self.min_words:
                out.append((key, position))
        return out
