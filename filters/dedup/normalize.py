"""Text normalisation and stable 64-bit hashes shared by every dedup kind.

Hashes must be equal across processes and machines (Python's `hash()` is salted per process), so they
come from xxhash; 64 bits keep a collision between two different texts out of reach even at 1B records.
"""

from __future__ import annotations

import re
import unicodedata

import xxhash

_WORD = re.compile(r"\w+", re.UNICODE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation, case, accents' composition and spacing do not matter."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def normalize_text(text: str) -> str:
    return " ".join(words(text))


def hash64(value: str | bytes, seed: int = 0) -> int:
    return xxhash.xxh3_64_intdigest(value, seed=seed)


def text_hash(text: str) -> int | None:
    """Hash of the normalised text, or None for a text without any word (nothing to deduplicate)."""
    normalized = normalize_text(text)
    return hash64(normalized) if normalized else None


def paragraphs(text: str) -> list[str]:
    """A text block's paragraphs: the pieces between blank lines (single newlines stay inside)."""
    return [p for p in (part.strip() for part in _PARAGRAPH_BREAK.split(text)) if p]
