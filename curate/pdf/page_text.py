"""The right text for a PDF page: its text layer, or OCR, decided from signals measured on the page.

Many PDFs carry a text layer that is missing, partial (the page's text is inside images and the layer
holds a running header) or garbage (an old OCR, a font whose encoding maps letters to other letters).
`layer_signals` measures a page's layer cheaply (one text parse; a small render only for nearly empty
layers); `ocr_reason` says whether and why to OCR it. Typeset text (visible glyphs, no scan under them) is judged on its prose lines only:
code, TeX commands, maths and chemistry look like OCR noise to word and vowel signals but are what the
page shows, so a born-digital layer goes to OCR only when its prose itself is garbage (a font whose
encoding maps letters to other letters). When OCR runs, `better_text` keeps the layer if the page's ink,
as OCR reads it, confirms the layer's words (any script), else the OCR (benchmarks/bench_routing.py
measures both the false-OCR rate and which text is closer to the page). The layer's blocks are put in
reading order by `curate.pdf.reading_order`: column by column between full-width blocks; anything that is
not a clear column layout (tables, forms) keeps its stored order, so table rows stay rows.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from typing import NamedTuple

import numpy as np

from curate.pdf.hidden_text import PageRender, hidden_blocks
from curate.pdf.reading_order import column_bounds, in_columns, reading_order
from curate.pdf.table_text import find_tables, may_hold_table, place_tables

# letter runs, apostrophes inside words ("don't"); accented letters count as letters
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# English function words: their share tells English text (judged by the English word list) from other
# languages, where only language-free signals apply
FUNCTION_WORDS = frozenset(
    "the of and to in a is that for it as with was on be by are this from at or an not which have his "
    "had but they their were has been its we our can will would there all one".split()
)
VOWELS = frozenset("aeiouyAEIOUY")
EDGE_PUNCT = ".,;:!?\"'()[]{}“”‘’«»*†‡§"
# OCR noise inside a token: a letter next to a symbol that never sits inside a word ("t>", "a|b")
ODD_INSIDE = re.compile(r"[^\W\d_][<>|\\^~`{}\[\]=+]|[<>|\\^~`{}\[\]=+][^\W\d_]")
SINGLE_LETTER_WORDS = frozenset("aAIoO")
CID = re.compile(r"\(cid:\d+\)")
# characters that may be unreadable: all but printable ASCII and newlines (checked one by one)
MAYBE_UNREADABLE = re.compile(r"[^\x20-\x7e\n]")
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
ANY_WORD = re.compile(rf"[{CJK}]|[^\W{CJK}]+")

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
MIN_SHIFT_LETTERS = 100  # Latin letters needed to judge their vowels
MIN_VOWEL_SHARE = 0.2  # vowels among Latin letters: ~0.38 in English, French, German; shifted fonts ~0.05
OCR_MARGIN = 1.05  # OCR replaces a layer only when its score is this much higher
# Tuned on generated LaTeX pages (benchmarks/bench_routing.py, collection `latex`):
# characters that put a line among code, TeX, maths or chemistry rather than prose
CODE_CHARS = re.compile(r"[\\{}\[\]<>|=;_^~#$%&@`*+/∑∫√±×÷→←↔⇌⇒≤≥≠≈∞∂∇∈∀∃′″]|\d\s*[-+]|\w\(|\)\w")
MIN_PROSE_LINE_WORDS = 3  # a line of prose has this many words; maths laid out in 2-D: a symbol or two
MIN_PROSE_WORDS = 20  # fewer words of prose: the page is code or maths, typeset text kept as it is
MAX_INVISIBLE_TYPESET = 0.5  # over an image, a layer this visible is typeset text, not an OCR layer
INK_LEVEL = 224  # a pixel darker than this (of 255) is ink: small print at 24 dpi is light grey
BLANK_INK = 0.002  # a page this bare (dark pixels) with no images holds no more text than its layer
# Set after reading the first run on the `fresh-doc` collection (figure pages of MetaPost manuals):
MIN_GLYPH_PATHS = 100  # small filled paths on a page without text or images: text drawn as outlines
GLYPH_PATH_PT = 25  # a glyph's outline fits in a square this size
# Set after reading texlive-pictures-doc's failures (diagram fonts, key labels, letter-spaced code):
LETTER_SPACED = 0.6  # a line with more one-letter words than this share is letter-spaced, not prose
AGREE = 0.8  # OCR keeps the layer when this share of the layer's words is what OCR read on the page


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The CMU pronouncing dictionary's 126k words (lower case), shipped with pocketsphinx."""
    from curate.models import CMU_DICT, model_path

    path = model_path(CMU_DICT)
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
    vowel_share: float  # vowels among the Latin letters of words (two letters or more)
    noise_share: float  # whitespace tokens that look like OCR noise
    latin: int  # Latin letters
    word_list: tuple[str, ...] = field(default=(), repr=False, compare=False)

    # measured when asked for: typeset text is judged without the English word list (see `_garbled`)
    @cached_property
    def valid(self) -> int:
        """Words of the English word list."""
        vocabulary = english_words()
        return sum(
            1
            for w in self.word_list
            if w.lower().replace("’", "'") in vocabulary and (len(w) > 1 or w in "aAI")
        )

    @cached_property
    def function_share(self) -> float:
        """English function words among the words."""
        function = sum(1 for w in self.word_list if w.lower() in FUNCTION_WORDS)
        return function / self.words if self.words else 0.0

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


# a token's verdict is kept: a page's tokens are mostly words seen on earlier pages (0.17 -> 0.12 ms a page
# on the born-digital set's 78 distinct pages, less over a long run)
@lru_cache(maxsize=1 << 16)
def _is_noise(token: str) -> bool:
    if len(token) > 1 and token.isalpha() and (token.islower() or token.isupper() or token[1:].islower()):
        return False  # a plain word: most tokens, decided fast
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
    """Word validity (CMU dictionary), English function words, vowels and OCR debris of a text."""
    return _quality(WORD.findall(text), text.split())


def _quality(words: list[str], tokens: list[str]) -> TextQuality:
    """The quality of a text from its words (letter runs, `WORD`) and its whitespace tokens."""
    # letters of words, not single letters: a glyph table or a formula's variables are no words
    joined = "".join(w for w in words if len(w) > 1)
    latin, vowels = _latin_and_vowels(joined)
    noise = sum(map(_is_noise, tokens))
    return TextQuality(
        words=len(words),
        vowel_share=vowels / latin if latin else 0.0,
        noise_share=noise / len(tokens) if tokens else 0.0,
        latin=latin,
        word_list=tuple(words),
    )


@lru_cache(maxsize=16)  # asked for by the signals and again by the routing
def clean_ratio(text: str, drawings: bool = False) -> tuple[int, float]:
    """Visible characters, and the share of them that are characters of some script, digits, marks,
    punctuation or symbols: not replacement characters, private-use glyphs, control or unassigned code
    points, nor pdfminer-style "(cid:N)" glyphs, which a broken font encoding leaves.
    `drawings`: lines drawn with one repeated glyph are left out (see `drawn_with_glyphs`)."""
    if drawings:
        lines = text.splitlines()
        kept = [line for line in lines if not drawn_with_glyphs(line)]
        if len(kept) == len(lines):
            # the same counts as the whole text's (already counted: cached): line breaks are whitespace
            return clean_ratio(text)
        text = "\n".join(kept)
    visible = sum(map(len, text.split()))  # characters but whitespace (str.split's is re's \s)
    if not visible:
        return 0, 0.0
    bad = sum(len(m) for m in CID.findall(text))
    # printable ASCII is readable: only the other characters are looked at one by one
    bad += sum(1 for c in MAYBE_UNREADABLE.findall(CID.sub("", text)) if not c.isspace() and _unreadable(c))
    return visible, 1 - bad / visible


def drawn_with_glyphs(line: str) -> bool:
    """A line of one glyph, alone or repeated without a space: a rule, an arrowhead or a circle of a
    diagram drawn with a line font (LaTeX's picture mode, diagram packages), whose codes are often control
    characters. Text has more than one letter; a line of replacement characters (no mapping) is text."""
    core = line.strip()
    return bool(core) and core.count(core[0]) == len(core) and core[0] != "\ufffd"


def _unreadable(char: str) -> bool:
    if char.isascii():
        return not char.isprintable()
    return char == "\ufffd" or unicodedata.category(char) in ("Co", "Cn", "Cc", "Cs")


@dataclass(frozen=True)
class LayerSignals:
    """A page's text layer, measured: its text in reading order and where text and images are."""

    text: str
    image_share: float  # of the page area, covered by images
    text_share: float  # of the page area, covered by text blocks
    chars_per_kpt2: float  # visible characters per 1,000 pt² of page (a full page of prose: 3-12)
    invisible_share: float = 0.0  # of the layer's characters, invisible (render mode 3: an OCR layer);
    # measured on pages mostly covered by images only
    ink_share: float | None = None  # dark pixels of the page rendered small; measured on nearly empty
    # layers without images only
    glyph_paths: int | None = None  # small filled vector paths (outlined text); measured on such pages
    # with ink only
    text_lines: int | None = None  # lines of text Tesseract's layout analysis finds on the page rendered
    # small; measured on nearly empty layers on pages with images only (None: not measured, no Tesseract)
    hidden_chars: int = 0  # characters of the layer the page's render does not show (curate.pdf.hidden_text),
    # left out of `text`

    @property
    def quality(self) -> TextQuality:
        return text_quality(self.text)

    @property
    def typeset(self) -> bool:
        """Visible glyphs with no scan under them: text the producer typeset, not an OCR engine's layer."""
        return self.image_share < SCAN_IMAGE_SHARE or self.invisible_share < MAX_INVISIBLE_TYPESET


def signals_summary(signals: LayerSignals) -> dict[str, float | int]:
    """The measurements behind a routing decision, rounded, for the record's metadata and the report."""
    whole, prose = signals.quality, prose_quality(signals.text)
    visible, _ = clean_ratio(signals.text)
    _, clean = clean_ratio(signals.text, drawings=True)  # the measures ocr_reason decides on
    vowels = plain_word_vowels(signals.text)[1] if signals.typeset else whole.vowel_share
    return {
        "visible_chars": visible,
        "clean_ratio": round(clean, 3),
        "image_share": round(signals.image_share, 3),
        "text_share": round(signals.text_share, 3),
        "chars_per_kpt2": round(signals.chars_per_kpt2, 2),
        "invisible_share": round(signals.invisible_share, 3),
        **({"ink_share": round(signals.ink_share, 4)} if signals.ink_share is not None else {}),
        **({"glyph_paths": signals.glyph_paths} if signals.glyph_paths is not None else {}),
        **({"text_lines": signals.text_lines} if signals.text_lines is not None else {}),
        "vowel_share": round(vowels, 3),
        "prose_words": prose.words,
        "prose_noise_share": round(prose.noise_share, 3),
        "words": whole.words,
        "noise_share": round(whole.noise_share, 3),
    }


def prose_quality(text: str) -> TextQuality:
    """`text_quality` of the text's prose: its lines (table cells) that hold no code, TeX, maths or
    chemistry characters, and three words or more (a formula laid out in two dimensions comes out as lines
    of a symbol or two), not letter-spaced; from the words `worded_cells` found there."""
    cells = _prose_cells(text)
    return _quality([w for cell in cells for w in cell.words], [t for cell in cells for t in cell.tokens])


def _prose_cells(text: str) -> list[WordedCell]:
    return [cell for cell in worded_cells(text) if not CODE_CHARS.search(cell.text)]


def plain_word_vowels(text: str) -> tuple[int, float]:
    """Latin letters, and the share of them that are vowels, in the plain words (letters only, three or
    more, punctuation around them aside) of the lines of words: not identifiers (`_sl`, `pnts[2]`),
    formulas (`C10H14N2`), key labels or abbreviations alone on a line or in a table cell."""
    plain = "".join(map(_plain_word, chain.from_iterable(cell.tokens for cell in worded_cells(text))))
    letters, vowels = _latin_and_vowels(plain)
    return letters, vowels / letters if letters else 0.0


@lru_cache(maxsize=1 << 16)  # as `_is_noise`: most tokens were seen on earlier pages
def _plain_word(token: str) -> str:
    """The token's word, punctuation around it aside, if it is a plain word (letters only, three or
    more), else ''."""
    word = token.strip(EDGE_PUNCT)
    return word if len(word) >= 3 and word.isalpha() else ""


def _latin_and_vowels(letters: str) -> tuple[int, int]:
    """Latin letters and vowels among them in a string of words (letters and apostrophes only), counted
    by C loops: its ASCII characters are Latin letters and straight apostrophes, and vowels are Latin.
    A regex listing every letter cost ~0.2 ms a page."""
    latin = len(letters.encode("ascii", "ignore")) - letters.count("'")
    return latin, sum(map(letters.count, VOWELS))


class WordedCell(NamedTuple):
    """A line (or table cell) of words: its text, its words (`WORD`) and its whitespace tokens."""

    text: str
    words: list[str]
    tokens: list[str]


@lru_cache(maxsize=4)  # asked for by the prose filter and the vowel count of the same page
def worded_cells(text: str) -> tuple[WordedCell, ...]:
    """The lines (table cells) of three words or more that are not letter-spaced ("c i r c l e": a heading or code set
    with spaced letters, or a row of one-letter variables): each word there is a letter, which reads as
    OCR debris though it is what the page shows. Their words and tokens are kept: the routing signals
    measure them (one pass over the page's lines, not one per signal)."""
    out = []
    findall, new = WORD.findall, tuple.__new__  # a NamedTuple's own __new__ is a Python call
    # a table's row (curate.pdf.table_text) is judged cell by cell: a cell of a key label is no line of words
    for line in (cell for row in text.splitlines() for cell in row.split(" | ")):
        words = findall(line)
        # one-letter words counted only on lines with words enough
        if len(words) >= MIN_PROSE_LINE_WORDS and list(map(len, words)).count(1) <= LETTER_SPACED * len(words):
            out.append(new(WordedCell, (line, words, line.split())))
    return tuple(out)


def layer_signals(
    page, grid: int = 48, table_rows: bool = True, render: PageRender | None = None
) -> LayerSignals:
    """Text blocks and image blocks of a PyMuPDF page from one parse; areas as a union on a coarse grid
    (overlapping images are not counted twice). `table_rows`: tables written row by row (False: as MuPDF
    stores them, the baseline of benchmarks/bench_ocr.py). `render`: the page's render, to leave out the
    text it does not show (curate.pdf.hidden_text)."""
    import pymupdf

    rect = page.rect
    # one parse: its blocks, and its words where the blocks look like a table's cells
    textpage = page.get_textpage(flags=pymupdf.TEXTFLAGS_BLOCKS | pymupdf.TEXT_PRESERVE_IMAGES)
    blocks = textpage.extractBLOCKS()
    image_boxes = [b[:4] for b in blocks if b[6] == 1]
    image_share = _covered_share(image_boxes, rect, grid)
    # on a scan the layer is an OCR engine's, placed over the glyphs as well as the engine could: judged
    # by the routing, not left out where it misses them
    hidden = hidden_blocks(blocks, render) if image_share < SCAN_IMAGE_SHARE else []
    if hidden:
        blocks = [b for b in blocks if b not in hidden]
    text_blocks = [b for b in blocks if b[6] == 0 and b[4].strip()]
    # a parse with images splits text blocks where an image is drawn: the same parse as one without
    # images (which splitting merged blocks reads, curate.pdf.reading_order) only where it has none
    same_without_images = textpage if not image_boxes else None
    if table_rows:
        units = _ordered_units(page, textpage, [b for b in blocks if b[6] == 0], same_without_images, hidden)
    else:
        units = reading_order(page, text_blocks, same_without_images, hidden)
    text = "".join(unit[4] for unit in units)
    visible, _ = clean_ratio(text)
    area = max(rect.width * rect.height, 1.0)
    ink = _ink_share(page) if visible < MIN_CHARS and not image_boxes else None
    return LayerSignals(
        text=text,
        image_share=image_share,
        text_share=_covered_share([b[:4] for b in text_blocks], rect, grid),
        chars_per_kpt2=visible / area * 1000,
        invisible_share=_invisible_share(textpage) if image_share >= SCAN_IMAGE_SHARE and visible else 0.0,
        ink_share=ink,
        glyph_paths=_glyph_paths(page) if ink is not None and ink >= BLANK_INK else None,
        text_lines=_text_lines(page) if visible < MIN_CHARS and image_boxes else None,
        hidden_chars=sum(len(b[4].strip()) for b in hidden),
    )


def _text_lines(page, dpi: int = 72) -> int | None:
    """Lines of text in the page's image as Tesseract's layout analysis finds them (no recognition): a
    photo or a drawing has none, a scan has its lines. None without Tesseract (OCR off or not installed)."""
    import pymupdf

    try:
        from curate.pdf.ocr import text_lines

        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        return text_lines(pix.samples, pix.width, pix.height, dpi, stride=pix.stride)
    except (ImportError, RuntimeError):
        return None


def _invisible_share(textpage) -> float:
    """Share of the layer's characters drawn invisibly (PDF render mode 3, as OCR engines write them)."""
    shown = hidden = 0
    for block in textpage.extractDICT()["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                n = len(span["text"].strip())
                if span.get("alpha", 255) == 0 or not span.get("char_flags", 16) & 48:  # not filled/stroked
                    hidden += n
                else:
                    shown += n
    return hidden / max(shown + hidden, 1)


def _glyph_paths(page) -> int:
    """Filled vector paths the size of a glyph: a page of text converted to outlines has hundreds, a
    figure (plot, diagram, drawing) few."""
    count = 0
    for path in page.get_cdrawings():
        x0, y0, x1, y1 = path["rect"]
        if "f" in path["type"] and x1 - x0 < GLYPH_PATH_PT and y1 - y0 < GLYPH_PATH_PT:
            count += 1
    return count


def _ink_share(page, dpi: int = 24) -> float:
    """Share of dark pixels of the page rendered small: vector drawings or outlined text show as ink."""
    import pymupdf

    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    samples = np.frombuffer(pix.samples, dtype=np.uint8)
    return float((samples < INK_LEVEL).mean()) if samples.size else 0.0


def _ordered_units(page, textpage, blocks: list, textpage_without_images=None, hidden: list = ()) -> list:
    """The page's text blocks in reading order, each table (see curate.pdf.table_text) as one unit written
    row by row: within its column or as a band across columns, or below the text above it. `hidden`: the
    blocks left out, whose words are left out too."""
    text_blocks = [b for b in blocks if b[4].strip()]
    if may_hold_table(text_blocks):
        words = textpage.extractWORDS()
        if hidden:
            gone = {b[5] for b in hidden}
            words = [w for w in words if w[5] not in gone]
        rest, tables, frame = find_tables(blocks, words)
        if tables:
            units = [b for b in rest if b[4].strip()] + tables
            # the tables' blocks are gone: splitting merged blocks (a new parse) would bring them back
            columns = column_bounds(units)
            if columns is None:
                return place_tables(units[: -len(tables)], tables, frame)
            return in_columns(units, columns)
    return reading_order(page, text_blocks, textpage_without_images, hidden)


def _covered_share(boxes, rect, grid: int) -> float:
    if not boxes:
        return 0.0
    # a row of the grid as the bits of an int: a box sets a run of bits in each of its rows (a numpy mask
    # cost ~0.12 ms a page in the page worker, this ~0.04)
    rows = [0] * grid
    sx, sy = grid / max(rect.width, 1e-6), grid / max(rect.height, 1e-6)
    for x0, y0, x1, y1 in boxes:
        c0, c1 = int(max(0, (x0 - rect.x0) * sx)), min(grid, math.ceil((x1 - rect.x0) * sx))
        r0, r1 = int(max(0, (y0 - rect.y0) * sy)), min(grid, math.ceil((y1 - rect.y0) * sy))
        if c1 > c0 and r1 > r0:
            run = ((1 << (c1 - c0)) - 1) << c0
            for r in range(r0, r1):
                rows[r] |= run
    return sum(map(int.bit_count, rows)) / (grid * grid)


def ocr_reason(signals: LayerSignals) -> str | None:
    """Why the page should be OCRed, or None when its text layer is good enough to keep without OCR."""
    visible, _ = clean_ratio(signals.text)
    if visible < MIN_CHARS:
        if signals.ink_share is not None and (
            signals.ink_share < BLANK_INK or (signals.glyph_paths or 0) < MIN_GLYPH_PATHS
        ):
            return None  # blank, a page number alone, or a figure: no text beyond the layer to read
        if signals.text_lines == 0:
            return None  # pictures (a photo, a drawing, a diagram's shaded nodes): no line of text to read
        return "no_text_layer"
    drawn, clean = clean_ratio(signals.text, drawings=True)
    if drawn >= MIN_CHARS and clean < MIN_CLEAN_RATIO:
        return "unreadable_text_layer"  # replacement characters, private-use glyphs
    sparse = signals.chars_per_kpt2 < IMAGE_PAGE_CHARS_PER_KPT2 or (
        signals.text_share < IMAGE_PAGE_TEXT_SHARE and signals.chars_per_kpt2 < 2 * IMAGE_PAGE_CHARS_PER_KPT2
    )
    if signals.image_share >= IMAGE_PAGE_SHARE and sparse:
        return "text_in_images"  # the layer covers a sliver of an image page: a header, a caption
    if signals.typeset:
        # judged on its prose: code, commands and formulas are what the page shows, whatever they look like
        # letters shifted by a broken font read as code to the prose filter: vowels are counted on every line
        # of words, code or not; not on lines of a word or two (key labels, abbreviations, a glossary's terms)
        latin, vowels = plain_word_vowels(signals.text)
        shifted = latin >= MIN_SHIFT_LETTERS and vowels < MIN_VOWEL_SHARE
        return (
            "garbled_text_layer" if shifted or _garbled(prose_quality(signals.text), typeset=True) else None
        )
    quality = signals.quality
    if quality.words < MIN_JUDGED_WORDS:
        return None
    if (
        _garbled(quality)
        or quality.noise_share > SCAN_LAYER_MAX_NOISE
        or (quality.english and quality.valid_share < SCAN_LAYER_MIN_VALID)
    ):
        return "poor_ocr_layer"  # a scan whose text layer is an OCR with many errors
    return None


def _garbled(quality: TextQuality, typeset: bool = False) -> bool:
    """Letters shifted by a broken font, debris, or (in an OCR layer) English whose words are mostly not
    words. Typeset text has no OCR misreadings: its words are judged by no language's word list (Latin,
    names, commands and any other language are not English words)."""
    if quality.words < MIN_PROSE_WORDS:
        return False
    return (
        (quality.latin >= MIN_SHIFT_LETTERS and quality.vowel_share < MIN_VOWEL_SHARE)
        or quality.noise_share > MAX_NOISE
        or (
            not typeset
            and quality.english
            and (
                quality.valid_share < BORN_DIGITAL_MIN_VALID
                or (quality.valid_share < NOISY_MIN_VALID and quality.noise_share > NOISY)
            )
        )
    )


def page_words(text: str) -> list[str]:
    """Words in any script, lower case; each Chinese or Japanese character is a word of its own."""
    return [w.lower() for w in ANY_WORD.findall(text)]


def agreement(text: str, reading: str) -> float:
    """Share of a text's words (with repeats, in any order) that another reading of the page also has."""
    from collections import Counter

    ours, theirs = Counter(page_words(text)), Counter(page_words(reading))
    return sum((ours & theirs).values()) / max(sum(ours.values()), 1)


def better_text(layer: str, ocr: str) -> tuple[str, str]:
    """(text, source) of the one of a page's text layer and its OCR closer to the page. The layer is kept
    when OCR, reading the page's ink, confirms its words (AGREE of them) and finds little it lacks (a
    partial layer: a header over an image of text); otherwise OCR, unless OCR found almost nothing."""
    if not layer.strip():
        return ocr, "ocr"
    confirmed, covered = agreement(layer, ocr), agreement(ocr, layer)
    if confirmed >= AGREE and covered >= AGREE:
        return layer, "text_layer"
    if len(page_words(ocr)) < MIN_JUDGED_WORDS <= len(page_words(layer)) and confirmed < AGREE:
        return layer, "text_layer"  # OCR read (next to) nothing where the layer has text: keep the layer
    return ocr, "ocr"
