"""The right text for a PDF page: its text layer, or OCR, decided from signals measured on the page.

Many PDFs carry a text layer that is missing, partial (the page's text is inside images and the layer
holds a running header) or garbage (an old OCR, a font whose encoding maps letters to other letters).
`layer_signals` measures a page's layer cheaply (one text parse, no render); `ocr_reason` says whether
and why to OCR it; `better_text` keeps whichever of layer and OCR scores higher on English word
validity (`text_quality`). `ordered_blocks` puts a multi-column layer in reading order: column by
column between full-width blocks; anything that is not a clear column layout (tables, forms) keeps
the order the layer stores it in, so table rows stay rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# letter runs, apostrophes inside words ("don't"); accented letters count as letters
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# English function words: their share tells English text (judged by the English word list) from other
# languages, where only language-free signals apply
FUNCTION_WORDS = frozenset(
    "the of and to in a is that for it as with was on be by are this from at or an not which have his "
    "had but they their were has been its we our can will would there all one".split()
)
VOWELS = frozenset("aeiouyAEIOUY")
LATIN = re.compile(r"[A-Za-z]")
EDGE_PUNCT = ".,;:!?\"'()[]{}“”‘’«»*†‡§"
# OCR noise inside a token: a letter next to a symbol that never sits inside a word ("t>", "a|b")
ODD_INSIDE = re.compile(r"[^\W\d_][<>|\\^~`{}\[\]=+]|[<>|\\^~`{}\[\]=+][^\W\d_]")
SINGLE_LETTER_WORDS = frozenset("aAIoO")

# Thresholds, measured on real pages (olmOCR's gnarly_pdfs, ../shared/data/pdf, see tests):
MIN_CHARS = 20  # fewer visible characters: no text layer to speak of
MIN_CLEAN_RATIO = 0.75  # letters, digits and punctuation among visible characters
SCAN_IMAGE_SHARE = 0.8  # images cover the page: a scan (its layer, if any, came from an OCR engine)
IMAGE_PAGE_SHARE = 0.5  # images cover most of the page ...
IMAGE_PAGE_TEXT_SHARE = 0.2  # ... and text blocks cover little of it: the text is in the images
IMAGE_PAGE_CHARS_PER_KPT2 = 1.0  # ... or the layer is this sparse (a page of prose: 3-15 per 1,000 pt²)
MIN_JUDGED_WORDS = 20  # fewer words say too little about the layer's quality
ENGLISH_FUNCTION_SHARE = 0.15  # English prose: ~40%; other languages and cipher text: < 5%
BORN_DIGITAL_MIN_VALID = 0.5  # valid English words on a page with no scan under it
NOISY_MIN_VALID = 0.75  # ... or this many when the layer is noisy too (letters dropped by a broken font)
NOISY = 0.1  # OCR-noise tokens that make a layer "noisy"
SCAN_LAYER_MIN_VALID = 0.9  # a scan's OCR layer below this is worth redoing (clean layers: 0.92-0.99)
MAX_NOISE = 0.4  # OCR-noise tokens, any page (math pages with many one-letter variables: ~0.3)
SCAN_LAYER_MAX_NOISE = 0.05  # OCR-noise tokens in a scan's layer
MIN_VOWEL_SHARE = 0.2  # vowels among Latin letters: ~0.38 in English, French, German; shifted fonts ~0.05
OCR_MARGIN = 1.05  # OCR replaces a layer only when its score is this much higher


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The CMU pronouncing dictionary's 126k words (lower case), shipped with pocketsphinx."""
    from filters.packaged import packaged_file

    path = packaged_file("pocketsphinx", "model/en-us/cmudict-en-us.dict")
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            word = line.split(" ", 1)[0]
            words.add(word.split("(", 1)[0])  # alternate pronunciations: "read(2)"
    return frozenset(words)


@dataclass(frozen=True)
class TextQuality:
    """What a page's text is worth, measured on its words."""

    words: int  # letter runs
    valid: int  # of them, words of the English word list
    function_share: float  # English function words among the words
    vowel_share: float  # vowels among Latin letters
    noise_share: float  # whitespace tokens that look like OCR noise

    @property
    def valid_share(self) -> float:
        return self.valid / self.words if self.words else 0.0

    @property
    def english(self) -> bool:
        return self.words >= MIN_JUDGED_WORDS and self.function_share >= ENGLISH_FUNCTION_SHARE

    @property
    def score(self) -> float:
        """Valid words weighted by their share: more of the page's words, and fewer wrong ones."""
        return self.valid * self.valid_share


def _is_noise(token: str) -> bool:
    core = token.strip(EDGE_PUNCT)
    if not core:
        return len(token) > 3 and not set(token) <= set(".-_=*…·•")  # '."5/0-': debris, not '...'
    if len(core) == 1:
        return core.isalpha() and core not in SINGLE_LETTER_WORDS and token == core
    if ODD_INSIDE.search(core):
        return True
    letters = sum(c.isalpha() for c in core)
    digits = sum(c.isdigit() for c in core)
    # letters and digits mixed on both sides of a dot: "dans.3", "a1.b2" (not "3.5", "e.g", "v2")
    if letters and digits and "." in core.strip("."):
        return True
    # a lower-case letter then upper-case inside a long word, twice: "BnlotsXshnmXk" (not "JavaScript")
    return sum(1 for a, b in zip(core, core[1:], strict=False) if a.islower() and b.isupper()) >= 2


def text_quality(text: str) -> TextQuality:
    words = WORD.findall(text)
    vocabulary = english_words()
    valid = sum(1 for w in words if w.lower().replace("’", "'") in vocabulary and (len(w) > 1 or w in "aAI"))
    function = sum(1 for w in words if w.lower() in FUNCTION_WORDS)
    latin = LATIN.findall(text)
    vowels = sum(1 for c in latin if c in VOWELS)
    tokens = text.split()
    noise = sum(1 for t in tokens if _is_noise(t))
    return TextQuality(
        words=len(words),
        valid=valid,
        function_share=function / len(words) if words else 0.0,
        vowel_share=vowels / len(latin) if latin else 0.0,
        noise_share=noise / len(tokens) if tokens else 0.0,
    )


def clean_ratio(text: str) -> tuple[int, float]:
    """Visible characters, and the share of them that are letters, digits or punctuation (not replacement
    characters or private-use glyphs from a broken font encoding)."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return 0, 0.0
    clean = sum(1 for c in visible if c.isalnum() or c in ".,;:!?'\"()[]{}-–—/%$€£&@#*+=<>|_~`^")
    return len(visible), clean / len(visible)


@dataclass(frozen=True)
class LayerSignals:
    """A page's text layer, measured: its text in reading order and where text and images are."""

    text: str
    image_share: float  # of the page area, covered by images
    text_share: float  # of the page area, covered by text blocks
    chars_per_kpt2: float  # visible characters per 1,000 pt² of page (a full page of prose: 3-12)

    @property
    def quality(self) -> TextQuality:
        return text_quality(self.text)


def layer_signals(page, grid: int = 48) -> LayerSignals:
    """Text blocks and image blocks of a PyMuPDF page from one parse; areas as a union on a coarse grid
    (overlapping images are not counted twice)."""
    import pymupdf

    rect = page.rect
    blocks = page.get_text("blocks", flags=pymupdf.TEXTFLAGS_BLOCKS | pymupdf.TEXT_PRESERVE_IMAGES)
    text_blocks = [b for b in blocks if b[6] == 0 and b[4].strip()]
    image_boxes = [b[:4] for b in blocks if b[6] == 1]
    text = "".join(block[4] for block in ordered_blocks(text_blocks))
    visible, _ = clean_ratio(text)
    area = max(rect.width * rect.height, 1.0)
    return LayerSignals(
        text=text,
        image_share=_covered_share(image_boxes, rect, grid),
        text_share=_covered_share([b[:4] for b in text_blocks], rect, grid),
        chars_per_kpt2=visible / area * 1000,
    )


def _covered_share(boxes, rect, grid: int) -> float:
    if not boxes:
        return 0.0
    mask = np.zeros((grid, grid), dtype=bool)
    sx, sy = grid / max(rect.width, 1e-6), grid / max(rect.height, 1e-6)
    for x0, y0, x1, y1 in boxes:
        c0, c1 = int(max(0, (x0 - rect.x0) * sx)), int(min(grid, np.ceil((x1 - rect.x0) * sx)))
        r0, r1 = int(max(0, (y0 - rect.y0) * sy)), int(min(grid, np.ceil((y1 - rect.y0) * sy)))
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return float(mask.mean())


def ocr_reason(signals: LayerSignals) -> str | None:
    """Why the page should be OCRed, or None when its text layer is good enough to keep without OCR."""
    visible, clean = clean_ratio(signals.text)
    if visible < MIN_CHARS:
        return "no_text_layer"
    if clean < MIN_CLEAN_RATIO:
        return "unreadable_text_layer"  # replacement characters, private-use glyphs
    if signals.image_share >= IMAGE_PAGE_SHARE and (
        signals.text_share < IMAGE_PAGE_TEXT_SHARE or signals.chars_per_kpt2 < IMAGE_PAGE_CHARS_PER_KPT2
    ):
        return "text_in_images"  # the layer covers a sliver of an image page: a header, a caption
    quality = signals.quality
    if quality.words >= MIN_JUDGED_WORDS:
        latin = len(LATIN.findall(signals.text))
        if latin >= 100 and quality.vowel_share < MIN_VOWEL_SHARE:
            return "garbled_text_layer"  # letters shifted by a broken font encoding
        if quality.noise_share > MAX_NOISE:
            return "garbled_text_layer"
        if quality.english and (
            quality.valid_share < BORN_DIGITAL_MIN_VALID
            or (quality.valid_share < NOISY_MIN_VALID and quality.noise_share > NOISY)
        ):
            return "garbled_text_layer"
        if signals.image_share >= SCAN_IMAGE_SHARE and (
            quality.noise_share > SCAN_LAYER_MAX_NOISE
            or (quality.english and quality.valid_share < SCAN_LAYER_MIN_VALID)
        ):
            return "poor_ocr_layer"  # a scan whose text layer is an OCR with many errors
    return None


def better_text(layer: str, ocr: str) -> tuple[str, str]:
    """(text, source) of the better of a page's text layer and its OCR: OCR when it scores clearly higher."""
    if not layer.strip():
        return ocr, "ocr"
    if text_quality(ocr).score > OCR_MARGIN * text_quality(layer).score:
        return ocr, "ocr"
    return layer, "text_layer"


# ---- reading order -------------------------------------------------------------------------------

WIDE_BLOCK = 0.6  # of the text's width: a block this wide spans columns (title, abstract, wide figure)
MIN_GUTTER_PT = 6  # narrowest white strip between two columns
MIN_COLUMN_SHARE = 0.2  # a column is at least this share of the text's width ...
MIN_COLUMN_CHARS = 200  # ... and holds this much text, so captions and labels do not make columns


def ordered_blocks(blocks: list) -> list:
    """Text blocks (x0, y0, x1, y1, text, ...) in reading order: on a page with text columns, column by
    column (left to right) within each band between full-width blocks, bands top to bottom. A page
    without a clear column layout keeps its stored order (a table's rows stay rows)."""
    if len(blocks) < 4:
        return list(blocks)
    left, right = min(b[0] for b in blocks), max(b[2] for b in blocks)
    width = right - left
    if width <= 0:
        return list(blocks)
    # short blocks (page numbers, figure labels) may sit in a gutter: they do not define columns
    narrow = [b for b in blocks if b[2] - b[0] < WIDE_BLOCK * width and len(b[4].strip()) >= 20]
    gutters = _gutters(narrow, left, right)
    if not gutters:
        return list(blocks)
    bounds = [left, *[(g0 + g1) / 2 for g0, g1 in gutters], right]
    columns = list(zip(bounds, bounds[1:], strict=False))
    spanning, placed = [], []
    for b in blocks:
        inside = [i for i, (c0, c1) in enumerate(columns) if b[0] >= c0 - 2 and b[2] <= c1 + 2]
        if inside:
            placed.append((inside[0], b))
        else:
            spanning.append(b)
    # column text must be real prose on both sides: enough characters, and the columns side by side
    chars = [sum(len(b[4]) for i, b in placed if i == c) for c in range(len(columns))]
    if min(chars) < MIN_COLUMN_CHARS or any(c1 - c0 < MIN_COLUMN_SHARE * width for c0, c1 in columns):
        return list(blocks)
    spanning.sort(key=lambda b: b[1])
    cuts = [b[1] for b in spanning]
    bands: list[list[list]] = [[[] for _ in columns] for _ in range(len(spanning) + 1)]
    for column, b in placed:
        centre = (b[1] + b[3]) / 2
        band = sum(1 for cut in cuts if cut <= centre)
        bands[band][column].append(b)
    ordered = []
    for band_index, band in enumerate(bands):
        for column_blocks in band:
            ordered.extend(sorted(column_blocks, key=lambda b: (b[1], b[0])))
        if band_index < len(spanning):
            ordered.append(spanning[band_index])
    return ordered


def _gutters(blocks: list, left: float, right: float) -> list[tuple[float, float]]:
    """White vertical strips between blocks: x-ranges no block covers, at least MIN_GUTTER_PT wide,
    with text on both sides."""
    if len(blocks) < 2:
        return []
    size = int(np.ceil(right - left)) + 1
    covered = np.zeros(size, dtype=bool)
    for b in blocks:
        covered[int(b[0] - left) : int(np.ceil(b[2] - left)) + 1] = True
    gutters, start = [], None
    for x in range(size):
        if not covered[x] and start is None:
            start = x
        elif covered[x] and start is not None:
            if x - start >= MIN_GUTTER_PT:
                gutters.append((left + start, left + x))
            start = None
    return gutters
