"""Decontamination: drop samples whose image or text matches a user's evaluation set.

The evaluation set is small (thousands of test images or questions), so its index lives in memory in
every task: decoded-pixel hashes and pHashes of the images of a folder, and word n-gram hashes of the
texts of a file (one item per line, or a JSON list / JSONL of strings or {"question": ...}). A record
is contaminated when
- one of its images has the same pixels as an evaluation image, or a pHash within `phash_threshold`;
- its text (or one of its QA turns) contains an evaluation item: the whole item for items of at most
  `ngram` words, or any `ngram`-word span of a longer item (GPT-3's 13-gram rule).
Dropped records carry `contaminated_by` (the evaluation file or line that matched).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from curate.filters.dedup.image_keys import hamming, open_image, perceptual_hash, pixel_hash
from curate.filters.dedup.normalize import hash64, words
from datatrove.data import Document

from curate.errors import ImageError
from curate.steps import ScoreFilter

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def _span_hash(tokens: list[str]) -> int:
    return hash64(" ".join(tokens))


def read_eval_texts(path: Path) -> list[tuple[str, str]]:
    """(label, text) of every item of an evaluation text file."""
    raw = path.read_text(encoding="utf-8")
    items: list = []
    if path.suffix == ".json":
        items = json.loads(raw)
    elif path.suffix == ".jsonl":
        items = [json.loads(line) for line in raw.splitlines() if line.strip()]
    else:
        items = [line for line in raw.splitlines() if line.strip()]
    out = []
    for n, item in enumerate(items, start=1):
        text = item if isinstance(item, str) else item.get("question") or item.get("text") or ""
        if text.strip():
            out.append((f"{path.name}:{n}", text))
    return out


class EvalIndex:
    """In-memory index of an evaluation set's images and texts."""

    def __init__(self, ngram: int = 13, min_words: int = 3):
        self.ngram, self.min_words = ngram, min_words
        self.pixels: dict[int, str] = {}
        self.phashes: list[int] = []
        self.phash_labels: list[str] = []
        self.spans: dict[int, dict[int, str]] = defaultdict(dict)  # span length -> hash -> label
        self.problems: list[str] = []

    def add_image_folder(self, folder: Path) -> None:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"decontamination: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        for path in files:
            try:
                image = open_image(path.read_bytes())
            except ImageError as exc:
                self.problems.append(f"evaluation image {path} does not decode ({exc}); it is not indexed")
                continue
            self.pixels[pixel_hash(image)] = path.name
            self.phashes.append(perceptual_hash(image))
            self.phash_labels.append(path.name)

    def add_texts(self, path: Path) -> None:
        for label, text in read_eval_texts(path):
            tokens = words(text)
            if len(tokens) < self.min_words:
                continue  # too short to be evidence of contamination ("yes", "what is it")
            n = min(self.ngram, len(tokens))
            for start in range(len(tokens) - n + 1):
                self.spans[n].setdefault(_span_hash(tokens[start : start + n]), label)

    def image_match(self, data: bytes, threshold: int) -> str | None:
        image = open_image(data)
        label = self.pixels.get(pixel_hash(image))
        if label or not self.phashes:
            return label
        distances = hamming(perceptual_hash(image), np.array(self.phashes, dtype=np.uint64))
        best = int(np.argmin(distances))
        return self.phash_labels[best] if distances[best] <= threshold else None

    def text_match(self, text: str) -> str | None:
        tokens = words(text)
        for n, table in self.spans.items():
            for start in range(len(tokens) - n + 1):
                label = table.get(_span_hash(tokens[start : start + n]))
                if label:
                    return label
        return None


def record_texts(doc: Document) -> list[str]:
    """The record's text and, for Docmatix samples, its questions and answers."""
    texts = [doc.text]
    for turn in doc.metadata.get("qa") or []:
        if isinstance(turn, dict):
            texts.extend(str(v) for v in turn.values())
    return texts


class Decontaminate(ScoreFilter):
    """Drops records matching an evaluation set (images folder and/or texts file)."""

    name = "🧪 Decontaminate"

    def __init__(
        self,
        images: str | Path | None = None,
        texts: str | Path | None = None,
        phash_threshold: int = 6,
        ngram: int = 13,
        exclusion_writer=None,
        error_writer=None,
    ):
        super().__init__(exclusion_writer=exclusion_writer, error_writer=error_writer)
        if not images and not texts:
            raise ValueError("decontamination needs an evaluation set: an images folder and/or a texts file")
        self.phash_threshold = phash_threshold
        self.index = EvalIndex(ngram=ngram)
        if images:
            self.index.add_image_folder(Path(images))
        if texts:
            self.index.add_texts(Path(texts))

    def score(self, doc: Document) -> None:
        for media in doc.media:
            if media.media_bytes:
                label = self.index.image_match(media.media_bytes, self.phash_threshold)
                if label:
                    doc.metadata["contaminated_by"] = {"image": label}
                    return
        for text in record_texts(doc):
            label = self.index.text_match(text)
            if label:
                doc.metadata["contaminated_by"] = {"text": label}
                return

    def decide(self, doc: Document):
        match = doc.metadata.get("contaminated_by")
        if not match:
            return True
        return False, "decontaminated_image" if "image" in match else "decontaminated_text"
